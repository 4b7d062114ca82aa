#!/usr/bin/env bash
# AISHELL-1 CIF recipe:  ./run.sh [--stage N] [--stop_stage M] [any option of asr.sh]
# Set bash to 'debug' mode, it will exit on:
# -e 'error', -u 'undefined variable', -o ... 'error in pipeline'
set -e
set -u
set -o pipefail

train_set=train
valid_set=dev
test_sets="dev test"

asr_config=conf/train_cif.yaml      # the paper's rows: conf/train_cif{,_acd,_lrd,_hkd}.yaml
inference_config=conf/decode.yaml   # conf/decode_lm.yaml with --use_lm true
lm_config=conf/train_lm.yaml        # stages 6-7 run with --use_lm true
plm=bert-base-chinese               # the teacher of stage 8 (distilling configs only)

# The published run used the plain training set; pass --speed_perturb_factors "0.9 1.0 1.1"
# for ESPnet's 3-way speed perturbation (train_sp).
../../TEMPLATE/asr1/asr.sh \
    --lang zh \
    --feats_type fbank \
    --fs 16k \
    --fbank_config conf/fbank.yaml \
    --token_type char \
    --train_set "${train_set}" \
    --valid_set "${valid_set}" \
    --test_sets "${test_sets}" \
    --asr_config "${asr_config}" \
    --inference_config "${inference_config}" \
    --lm_config "${lm_config}" \
    --plm "${plm}" \
    "$@"
