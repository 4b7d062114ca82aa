# mini_zh synthesises its corpus (local/data.sh): there is nothing to download.
