"""Regenerate the small text samples bundled in reprlab/data/samples from WordNet (wordnet-base)
and the King James Bible (bible-kjv).

Run: python scripts/make_samples.py   (needs /usr/share/wordnet and `bible`; output is deterministic)
WordNet licence: free to use, copy and distribute with the copyright notice (see samples/README).
"""

import random
import subprocess
from collections import defaultdict
from pathlib import Path

from reprlab.data.text import wordnet_glosses

OUT = Path(__file__).resolve().parents[1] / "src" / "reprlab" / "data" / "samples"
rng = random.Random(0)
by_label = defaultdict(list)
for label, gloss in wordnet_glosses():
    by_label[label].append(gloss)

# Labelled glosses: 8 frequent noun supersenses, 400 each, for transfer/probe demos.
LABELS = ["noun.animal", "noun.plant", "noun.food", "noun.person", "noun.artifact",
          "noun.location", "noun.body", "noun.substance"]
rows = []
for label in LABELS:
    for gloss in rng.sample(by_label[label], 400):
        rows.append(f"{label}\t{gloss}")
rng.shuffle(rows)
(OUT / "glosses_labeled.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")

# Pretraining corpus: documents of 6 consecutive glosses of one supersense, one sentence a line
# (definition and quoted examples split on '; '), blank line between documents.
docs = []
for label in sorted(by_label):
    glosses = by_label[label]
    start = rng.randrange(max(1, len(glosses) - 60))
    for i in range(start, min(len(glosses), start + 60), 6):
        sents = [s.strip().strip('"') for g in glosses[i:i + 6] for s in g.split("; ") if s.strip()]
        docs.append("\n".join(sents))
(OUT / "corpus.txt").write_text("\n\n".join(docs) + "\n", encoding="utf-8")
print(len(rows), "labelled glosses;", len(docs), "documents")

# Words in context: WordNet example sentences with the span of the synset's word, labelled by its
# supersense, 120 rows for each of the 12 most frequent noun/verb supersenses (layer-wise probes).
from reprlab.data.labeled_text import wordnet_words_in_context  # noqa: E402

wic = wordnet_words_in_context(fallback=False)
frequent = sorted(wic.counts().items(), key=lambda kv: (-kv[1], kv[0]))[:12]
pick = random.Random(1)
lines = []
for label, _ in sorted(frequent):
    rows = [i for i in range(len(wic)) if wic.label_names[int(wic.labels[i])] == label]
    for i in sorted(pick.sample(rows, 120)):
        start, end = wic.spans[i]
        lines.append(f"{label}\t{wic.items[i]}\t{start}\t{end}\t{wic.texts[i]}")
pick.shuffle(lines)
(OUT / "words_in_context.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
print(len(lines), "words in context")

# King James Bible sample (public domain): six books, chapters as documents (`bible -f` format).
BOOKS = ["gen1:1-gen50:26", "ruth1:1-ruth4:22", "jonah1:1-jonah4:11", "mark1:1-mark16:20", "jas1:1-jas5:20",
         "1jn1:1-1jn5:21"]
kjv = subprocess.run(["bible", "-f", "-m", "8192", *BOOKS], stdin=subprocess.DEVNULL, capture_output=True,
                     check=True, text=True).stdout
(OUT / "kjv_sample.txt").write_text(kjv, encoding="utf-8")
print(kjv.count("\n"), "KJV verses")
