#!/usr/bin/env bash
# What `make demo` records before it serves the dashboard, so that every page has something
# real to show: a CartPole run with checkpoints and its milestone video, and a short trading
# run with its held-out evaluation against buy-and-hold. $RLTRACK is the command to run
# (default: the venv's rltrack); RLTRACK_HOME is where the records go.
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a rltrack <<<"${RLTRACK:-.venv/bin/rltrack}"

"${rltrack[@]}" train --config conf/demo.yaml --no-progress
"${rltrack[@]}" video demo-cartpole-ppo --milestones 4 --total-seconds 12 --no-progress
"${rltrack[@]}" train --config conf/demo_trading.yaml --no-progress
