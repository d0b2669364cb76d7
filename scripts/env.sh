# Sourced by the other scripts: one build folder outside the checkout, reused by every clone on
# this machine (a fresh clone then rebuilds only AiCarpool's own crates, not its dependencies).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aicarpool/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
