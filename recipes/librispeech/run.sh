#!/usr/bin/env bash
# LibriSpeech n-best rescoring recipe: the book corpus -> the recommended RNNLM -> weights tuned on
# dev_clean -> WER on dev_other (and, optionally, + a KenLM 4-gram and + a backward model).
#
#   bash recipes/librispeech/run.sh                 # from the repository root; ../shared/data by default
#   DATA=/path/to/data WORK=exp/ls bash recipes/librispeech/run.sh
#
# Every stage skips when its output exists and prints its wall time; an interrupted training
# resumes from its checkpoint. Settings (environment variables, defaults below) are in
# docs/rescoring.md, "The recipe". SMOKE=1 is the test suite's tiny version (a small slice, minutes;
# SMOKE_EVERY and SMOKE_EPOCHS set its slice and epochs).
set -euo pipefail

DATA=${DATA:-../shared/data}
WORK=${WORK:-exp/librispeech}
EVERY=${EVERY:-1}                 # train on every EVERY-th line of train.txt.gz (1: all 40M words)
VALID_LINES=${VALID_LINES:-0}     # validate on the first VALID_LINES lines of valid.txt.gz (0: all)
MIN_COUNT=${MIN_COUNT:-5}
CLASSES=${CLASSES:-300}
CELL=${CELL:-lstm}
HIDDEN=${HIDDEN:-200}
LR=${LR:-0.05}
STREAMS=${STREAMS:-1}
THREADS=${THREADS:-2}
DROPOUT=${DROPOUT:-0}
TIME_BUDGET=${TIME_BUDGET:-2h45m} # training and validation; the halving phase gets the last BUDGET_HALVINGS epochs
BUDGET_HALVINGS=${BUDGET_HALVINGS:-4}
MAX_EPOCHS=${MAX_EPOCHS:-100}
SEED=${SEED:-1}
BACKWARD=${BACKWARD:-0}           # 1: also train a backward model (same settings) and mix it in
NGRAM=${NGRAM:-}                  # a KenLM 4-gram (ARPA or binary) to add, or "build" to make one with lmplz
NGRAM_INTERPOLATE=${NGRAM_INTERPOLATE:-} # empty: the n-gram as a tuned feature; W: mixed word by word with weight W
RESCORE_THREADS=${RESCORE_THREADS:-$THREADS}
UNTIL=${UNTIL:-}                  # stop after this stage: text, vocab or train (empty: run them all)
if [[ ${SMOKE:-0} == 1 ]]; then
  EVERY=${SMOKE_EVERY:-2000}; VALID_LINES=300; MIN_COUNT=2; CLASSES=20; HIDDEN=16; TIME_BUDGET=0
  MAX_EPOCHS=${SMOKE_EPOCHS:-2}
fi

G=$DATA/gutenberg
N=$DATA/nbest/librispeech_espnet_10best
for f in "$G/train.txt.gz" "$G/valid.txt.gz" "$N/inference/dev_clean" "$N/inference/dev_other" \
         "$N/ground_truth/dev_clean/text" "$N/ground_truth/dev_other/text"; do
  [[ -e $f ]] || { echo "run.sh: $f not found (set DATA to the folder holding gutenberg/ and nbest/)" >&2; exit 2; }
done
mkdir -p "$WORK"
PY=${PYTHON:-python3}

stage() {  # stage NAME OUTPUT COMMAND...: run COMMAND unless OUTPUT exists; print the wall time
  local name=$1 out=$2; shift 2
  if [[ -e $out ]]; then echo "== $name: $out exists, skipped"; return; fi
  echo "== $name"
  local start=$SECONDS
  "$@"
  echo "== $name: $((SECONDS - start)) s"
}

prepare_text() {  # every EVERY-th line, shuffled with a fixed seed (online SGD wants mixed books)
  zcat "$G/train.txt.gz" | awk -v n="$EVERY" 'NR % n == 0' | "$PY" -c "
import random, sys
lines = sys.stdin.read().splitlines()
random.Random($SEED).shuffle(lines)
sys.stdout.write('\n'.join(lines) + '\n')" > "$WORK/train.txt.tmp"
  mv "$WORK/train.txt.tmp" "$WORK/train.txt"
}
prepare_valid() {
  # awk reads to the end: head would close the pipe early and fail the pipeline (pipefail)
  zcat "$G/valid.txt.gz" | awk -v n="$VALID_LINES" 'n == 0 || NR <= n' > "$WORK/valid.txt.tmp"
  mv "$WORK/valid.txt.tmp" "$WORK/valid.txt"
}
train_model() {  # train_model NAME [--backward]: resumes from NAME.ckpt when it exists
  local name=$1; shift
  local files=(--train "$WORK/train.txt" --valid "$WORK/valid.txt" --output "$WORK/$name.rnnlm"
               --checkpoint "$WORK/$name.ckpt" --history-json "$WORK/$name.history.json" --threads "$THREADS")
  if [[ -e $WORK/$name.ckpt ]]; then  # the checkpoint holds the vocabulary, the options and the schedule
    echo "resuming from $WORK/$name.ckpt"
    rnnlm-fast train "${files[@]}" --resume
    return
  fi
  rnnlm-fast train "${files[@]}" --vocab "$WORK/vocab.txt" --cell "$CELL" --hidden "$HIDDEN" --lr "$LR" \
    --streams "$STREAMS" --dropout "$DROPOUT" --independent --seed "$SEED" --time-budget "$TIME_BUDGET" \
    --budget-halvings "$BUDGET_HALVINGS" --max-epochs "$MAX_EPOCHS" "$@"
}
rescore() {  # rescore NAME MODEL-OPTIONS...: tune on dev_clean, report dev_other (and the reverse)
  local name=$1; shift
  rnnlm-fast rescore "$@" --threads "$RESCORE_THREADS" --quiet \
    --nbest "$N/inference/dev_clean" --refs "$N/ground_truth/dev_clean/text" \
    --tune-nbest "$N/inference/dev_other" --tune-refs "$N/ground_truth/dev_other/text" \
    --report "$WORK/$name.dev_clean.json" > "$WORK/$name.dev_clean.log"
  rnnlm-fast rescore "$@" --threads "$RESCORE_THREADS" --quiet \
    --nbest "$N/inference/dev_other" --refs "$N/ground_truth/dev_other/text" \
    --tune-nbest "$N/inference/dev_clean" --tune-refs "$N/ground_truth/dev_clean/text" \
    --output-1best "$WORK/$name.dev_other.1best" --report "$WORK/$name.dev_other.json.tmp" > "$WORK/$name.dev_other.log"
  grep -E "^(weights|WER)" "$WORK/$name.dev_other.log"
  mv "$WORK/$name.dev_other.json.tmp" "$WORK/$name.dev_other.json"
}
build_ngram() {  # KenLM's lmplz and build_binary on the training text, <unk> as the RNNLM has it
  command -v lmplz > /dev/null || { echo "run.sh: NGRAM=build needs KenLM's lmplz and build_binary on PATH" >&2; exit 2; }
  "$PY" -c "
import sys
vocab = {l.split('\t')[1] for l in open('$WORK/vocab.txt', encoding='utf-8') if not l.startswith('#')}
for line in open('$WORK/train.txt', encoding='utf-8'):
    print(' '.join(w if w in vocab else '<unkw>' for w in line.split()))" > "$WORK/ngram.txt"
  lmplz -o 4 -S 30% --prune 0 0 1 1 --text "$WORK/ngram.txt" --arpa "$WORK/raw.arpa"
  "$PY" -c "
import sys
out = open('$WORK/4gram.arpa', 'w', encoding='utf-8')
for l in open('$WORK/raw.arpa', encoding='utf-8'):
    if l.startswith('ngram 1='):
        l = 'ngram 1=%d\n' % (int(l.split('=')[1]) - 1)
    elif l.startswith('-') and l.split('\t')[1:2] == ['<unk>']:
        continue  # lmplz's own <unk> goes; <unkw> becomes the RNNLM's <unk>
    out.write(l.replace('<unkw>', '<unk>'))"
  build_binary "$WORK/4gram.arpa" "$WORK/4gram.bin.tmp"
  mv "$WORK/4gram.bin.tmp" "$WORK/4gram.bin"
  rm -f "$WORK/ngram.txt" "$WORK/raw.arpa" "$WORK/4gram.arpa"
}

stage "prepare training text" "$WORK/train.txt" prepare_text
stage "prepare validation text" "$WORK/valid.txt" prepare_valid
[[ $UNTIL == text ]] && exit 0
stage "vocabulary" "$WORK/vocab.txt" rnnlm-fast vocab --train "$WORK/train.txt" --output "$WORK/vocab.txt" \
  --min-count "$MIN_COUNT" --classes "$CLASSES"
[[ $UNTIL == vocab ]] && exit 0
stage "train the forward model" "$WORK/forward.rnnlm" train_model forward
[[ $UNTIL == train ]] && exit 0
stage "rescore: no LM" "$WORK/nolm.dev_other.json" \
  rescore nolm --model "$WORK/forward.rnnlm" --lam 0 --word-bonus 0 --oov-weight 0
stage "rescore: the forward model" "$WORK/forward.dev_other.json" rescore forward --model "$WORK/forward.rnnlm"
MODELS=(--model "$WORK/forward.rnnlm")
if [[ $BACKWARD == 1 ]]; then
  stage "train the backward model" "$WORK/backward.rnnlm" train_model backward --backward
  stage "rescore: forward + backward" "$WORK/both.dev_other.json" \
    rescore both --model "$WORK/forward.rnnlm" --mix-model "$WORK/backward.rnnlm"
fi
if [[ -n $NGRAM ]]; then
  if [[ $NGRAM == build ]]; then stage "4-gram (KenLM)" "$WORK/4gram.bin" build_ngram; NGRAM=$WORK/4gram.bin; fi
  stage "rescore: forward + 4-gram" "$WORK/forward_4gram.dev_other.json" \
    rescore forward_4gram --model "$WORK/forward.rnnlm" --ngram "$NGRAM" ${NGRAM_INTERPOLATE:+--ngram-interpolate "$NGRAM_INTERPOLATE"}
fi

"$PY" - "$WORK" <<'PY'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
rows = [("no LM (first pass)", "nolm"), ("forward RNNLM", "forward"), ("+ backward RNNLM", "both"),
        ("forward RNNLM + 4-gram", "forward_4gram")]
print(f"{'WER (%), weights tuned on the other set':42} {'dev_clean':>9} {'dev_other':>9}")
for label, name in rows:
    got = [work / f"{name}.{s}.json" for s in ("dev_clean", "dev_other")]
    if all(p.exists() for p in got):
        wer = [json.loads(p.read_text())["after"]["wer_percent"] for p in got]
        print(f"{label:42} {wer[0]:9.2f} {wer[1]:9.2f}")
PY
