# Where the corpus is, or is downloaded to: the directory that holds data_aishell/ (unpacked or
# as downloaded, with per-speaker wav/*.tar.gz) or data_aishell.tgz. The environment wins.
AISHELL=${AISHELL:-downloads}
