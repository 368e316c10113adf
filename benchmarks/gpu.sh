#!/bin/bash
# The GPU rows of RESULTS.md ("GPU scale"): every benchmark's CUDA variant and a real CUDA training
# (bf16 autocast, channels_last, torch.compile, one-process NCCL DDP under torchrun), each command
# bounded by a timeout. Usage: bash benchmarks/gpu.sh OUT_DIR   (from the repository root)
set -u
out=${1:?usage: bash benchmarks/gpu.sh OUT_DIR}
mkdir -p "$out"
py=${PYTHON:-python3}
run() {  # run SECONDS COMMAND...: prints the command's exit status; a timeout stops that step only
  local limit=$1
  shift
  echo "== $* (limit ${limit}s) $(date -u +%T)"
  timeout "$limit" "$@"
  echo "== exit $? $(date -u +%T)"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$py -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
run 180 $py -m benchmarks.training --device cuda --config-prefix imagenet100 --models resnet facnn24 --batch 256 \
  --repeats 5 --out-dir "$out"
run 90 $py -m benchmarks.training --device cuda --batch 128 --repeats 20 --out-dir "$out"
run 80 $py -m benchmarks.attribution --device cuda --batch 64 --rise-n 4000 --out-dir "$out"
run 150 $py -m benchmarks.attribution --device cuda --config-prefix imagenet100 --model facnn24 --batch 8 \
  --rise-n 2000 --occlusion-k 32 --out-dir "$out"
run 120 $py -m benchmarks.profile_step --device cuda --config imagenet100_facnn24 --batch 64 --top 18 \
  > "$out/profile-imagenet100-facnn24.txt"
run 90 $py -m torch.distributed.run --nproc-per-node 1 -m facnn.train --config fashion_mnist_facnn --epochs 2 \
  --device cuda --compile --channels-last --out /tmp/facnn-gpu-train --no-progress
cp /tmp/facnn-gpu-train/results.json "$out/train-ddp-results.json"
