# SPDX-License-Identifier: MIT
# infer_accuracy.sh — accuracy reporting of `framebus infer` end to end:
# a still picture is published with ground truth of our choosing (built
# from what the tiny test net detects in it, at two frame scales, plus
# misses and frames without ground truth); infer's precision, recall and
# mAP@0.5 (JSON summary) must equal an independent recomputation from its
# own per-frame JSON lines, the truth boxes must come back scaled to the
# frame, and a model without the scene's classes must report no accuracy.
. "$(dirname "$0")/infer_common.sh"
: "${DEMO_GTPUB:?}"
make_model 3
command -v python3 >/dev/null || skip "python3 missing"

# infer_on GTFILE OUT [infer args...]: publish the picture, run infer on it.
infer_on() {
	local gt=$1 out=$2 bus=$BUS-$RANDOM
	shift 2
	"$DEMO_GTPUB" "shm:$bus" 320x240 "$gt" 400 &
	PIDS+=($!)
	timeout 40 "$F" infer --from "shm:$bus" --every --json --headless \
		"$@" > "$out" 2> "$out.err" || fail "infer: $(cat "$out.err")"
}

# 1. No ground truth: no "truth" in the frames, accuracy null.
echo - > "$TMP/none.gt"
infer_on "$TMP/none.gt" "$TMP/p1.json" "${MODEL[@]}" --frames 3
jq -e -s '(.[:-1] | all(has("truth") | not)) and (.[-1].summary.accuracy == null)
	and (.[0].boxes | length > 2)' "$TMP/p1.json" >/dev/null ||
	fail "frames without ground truth: $(head -c 1500 "$TMP/p1.json")"

# 2. Ground truth made from those detections.
python3 - "$TMP/p1.json" "$TMP/gt.txt" "$TMP/expect.json" <<'EOF'
import json, math, sys
frames = [json.loads(l) for l in open(sys.argv[1])][:-1]
boxes = frames[0]["boxes"]
for f in frames[1:]:
    assert f["boxes"] == boxes, "same picture, different detections"
ids = {"circle": 0, "square": 1, "triangle": 2, "cross": 3}
def ibox(b, s, W, H):
    x0 = max(0, math.floor(b["x"] * s)); y0 = max(0, math.floor(b["y"] * s))
    x1 = min(W * s, math.ceil((b["x"] + b["w"]) * s)); y1 = min(H * s, math.ceil((b["y"] + b["h"]) * s))
    return [ids[b["class"]], x0, y0, max(1, x1 - x0), max(1, y1 - y0)]
# A: every other detection, at twice the frame size; a circle nobody
# detects; a triangle, a class the net does not have.
a = [ibox(b, 2, 320, 240) for b in boxes[::2]] + [[0, 600, 440, 30, 30], [2, 10, 10, 40, 40]]
# B: every third detection moved by half its width (IoU about 1/3).
b = []
for d in boxes[::3]:
    c, x, y, w, h = ibox(d, 1, 320, 240)
    x = min(x + w // 2, 320 - w)
    b.append([c, x, y, w, h])
with open(sys.argv[2], "w") as f:
    f.write("640 480 " + " ".join(str(v) for bx in a for v in bx) + "\n")
    f.write("320 240 " + " ".join(str(v) for bx in b for v in bx) + "\n")
    f.write("-\n")
names = ["circle", "square", "triangle", "cross"]
exp = [[{"class": names[c], "class_id": c, "x": x / 2, "y": y / 2, "w": w / 2, "h": h / 2} for c, x, y, w, h in a],
       [{"class": names[c], "class_id": c, "x": x, "y": y, "w": w, "h": h} for c, x, y, w, h in b]]
json.dump(exp, open(sys.argv[3], "w"))
EOF
infer_on "$TMP/gt.txt" "$TMP/p2.json" "${MODEL[@]}" --frames 12
grep -q "mAP@0.5" "$TMP/p2.json.err" || fail "no accuracy in the summary: $(cat "$TMP/p2.json.err")"

# 3. The independent recomputation: VOC matching per frame and class,
# scores in 1/1000 bins, all-point AP, mean over classes with truth.
python3 - "$TMP/p2.json" "$TMP/expect.json" <<'EOF' || fail "accuracy mismatch (above)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
frames, summ = lines[:-1], lines[-1]["summary"]
expect = json.load(open(sys.argv[2]))
acc = summ["accuracy"]
assert len(frames) == 12 and summ["frames"] == 12, "frame count"
names = ["circle", "square", "triangle", "cross"]
def iou(a, b):
    ix = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    iy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    if ix <= 0 or iy <= 0: return 0.0
    i = ix * iy
    return i / (a["w"] * a["h"] + b["w"] * b["h"] - i)
ngt = {n: 0 for n in names}; tpb = {n: [0] * 1000 for n in names}; fpb = {n: [0] * 1000 for n in names}
with_gt = without = 0; closest = 1.0
for f in frames:
    if "truth" not in f:
        without += 1; continue
    with_gt += 1
    truth = f["truth"]
    assert truth in expect, "truth not scaled to the frame: %s" % truth
    for t in truth: ngt[t["class"]] += 1
    used = [False] * len(truth)
    dets = sorted([d for d in f["boxes"] if d["class"] in names], key=lambda d: -d["score"])
    for d in dets:
        best, bj = -1.0, -1
        for j, t in enumerate(truth):
            if used[j] or t["class"] != d["class"]: continue
            v = iou(d, t); closest = min(closest, abs(v - 0.5))
            if v >= 0.5 and v > best: best, bj = v, j
        b = min(999, int(d["score"] * 1000)) if d["score"] > 0 else 0
        if bj >= 0: used[bj] = True; tpb[d["class"]][b] += 1
        else: fpb[d["class"]][b] += 1
assert with_gt == acc["frames"] and with_gt >= 6 and without >= 2, (with_gt, without)
aps, TP, FP = [], 0, 0
for n in names:
    c = acc["classes"][n]; tp, fp = sum(tpb[n]), sum(fpb[n]); TP += tp; FP += fp
    assert (c["truth"], c["tp"], c["fp"]) == (ngt[n], tp, fp), (n, c, ngt[n], tp, fp)
    if not ngt[n]:
        assert c["ap50"] is None; continue
    # the curve from high score to low, then VOC's monotone envelope
    rec, prec, ct, cf = [0.0], [], 0, 0
    for i in range(999, -1, -1):
        if tpb[n][i] or fpb[n][i]:
            ct += tpb[n][i]; cf += fpb[n][i]
            rec.append(ct / ngt[n]); prec.append(ct / (ct + cf))
    ap = sum((rec[k + 1] - rec[k]) * max(prec[k:]) for k in range(len(prec)))
    assert abs(ap - c["ap50"]) < 2e-6, (n, ap, c["ap50"])
    aps.append(ap)
m = sum(aps) / len(aps)
P = TP / (TP + FP) if TP + FP else 0.0; R = TP / sum(ngt.values())
for k, v in (("map50", m), ("precision", P), ("recall", R)):
    assert abs(acc[k] - v) < 2e-6, (k, acc[k], v)
assert TP > 0 and FP > 0 and 0 < m < 1, "fixture too easy or too hard: %s" % acc
print("accuracy recomputed: mAP@0.5 %.4f P %.4f R %.4f (tp %d fp %d; nearest IoU to the 0.5 line: +-%.4f)" % (m, P, R, TP, FP, closest))
EOF

# 4. A model without the scene's classes: said so, no accuracy.
printf 'dog\ncat\n' > "$TMP/pets.names"
infer_on "$TMP/gt.txt" "$TMP/p3.json" --model "$TMP/tiny.cfg" --weights "$TMP/tiny.weights" \
	--names "$TMP/pets.names" --frames 3
grep -q "none of its classes" "$TMP/p3.json.err" || fail "no note on foreign classes: $(cat "$TMP/p3.json.err")"
jq -e -s '.[-1].summary.accuracy == null' "$TMP/p3.json" >/dev/null || fail "accuracy for foreign classes"
echo "infer accuracy: ok"
