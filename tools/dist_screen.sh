#!/usr/bin/env bash
# Screen a folder on several processes through torchrun (gloo on CPUs), into one CSV that is
# row for row the one tools/screen.py writes; each rank screens its shard, rank 0 merges.
# Usage: tools/dist_screen.sh FOLDER NPROC --out results.csv [screen.py options...]
# Several nodes (--out on a shared filesystem):
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=host0 PORT=29510 tools/dist_screen.sh ...
# A shard that did not finish is named and the exit status is non-zero (docs/deployment.md).
set -uo pipefail
FOLDER=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29510}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT=""
ARGS=("$@")
for ((i = 0; i < ${#ARGS[@]}; i++)); do
    case "${ARGS[i]}" in
        --out) OUT="${ARGS[i + 1]:-}" ;;
        --out=*) OUT="${ARGS[i]#--out=}" ;;
    esac
done
if [[ -z "$OUT" ]]; then
    echo "usage: tools/dist_screen.sh FOLDER NPROC --out results.csv [screen.py options]" >&2
    exit 2
fi
# shards of an earlier run must not be taken for this run's (workers start after all nodes
# have joined, so node 0 clears them before any is written)
[[ "$NODE_RANK" == 0 ]] && rm -rf -- "$OUT.shards"
export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" --nproc_per_node="$NPROC" \
    "$ROOT/tools/screen.py" "$FOLDER" --launcher pytorch "$@"
STATUS=$?
if [[ $STATUS -ne 0 && "$NODE_RANK" == 0 ]]; then
    python -m mmtb.deployment.sharding report "$OUT" "$((NNODES * NPROC))"
fi
exit $STATUS
