# How parallel jobs run: "<cmd> JOB=1:N <log> <command>", Kaldi's run.pl interface.
# run.py (utils/, on PATH through path.sh) runs them on this machine. On a cluster, put Kaldi's
# queue.pl or slurm.pl (with their conf/*.conf) on PATH and name them here instead.
export train_cmd="run.py"
export cuda_cmd="run.py"
export decode_cmd="run.py"
