"""The learned text models: the shipped files rebuild byte for byte, load and score within range; the
training maths (calibration, thresholds, weights) on known answers; the masks the heads read through."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llmdrift.score import features, heads, refusal, toxicity, train
from llmdrift.score.heads import HEADS, TIERS, TextModelError, load, shipped_dir, text_model

LABELED = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"
needs_corpus = pytest.mark.skipif(
    not (LABELED / "refusal.jsonl.gz").exists(),
    reason=f"the third-party labeled corpus is not beside the repository ({LABELED})",
)


@needs_corpus
def test_training_rebuilds_the_shipped_models_byte_for_byte(tmp_path: Path) -> None:
    """The training command, in a fresh process as a user runs it (this test process has imported torch,
    which may switch the CPU's handling of denormal numbers and so move last bits)."""
    command = [str(Path(sys.executable).with_name("llmdrift")), "models", "train", "--labeled", str(LABELED)]
    done = subprocess.run([*command, "--out", str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    versions = dict(line.split(" -> ")[0].split(": ") for line in done.stdout.splitlines())
    for tier in TIERS:
        for name in (heads.MANIFEST, heads.WEIGHTS):
            rebuilt, shipped = (
                (tmp_path / tier / name).read_bytes(),
                (shipped_dir() / tier / name).read_bytes(),
            )
            assert rebuilt == shipped, f"{tier}/{name} differs: run `llmdrift models train` and commit"
        assert versions[tier] == text_model(tier).version


def test_shipped_models_load_with_every_head_and_stay_small() -> None:
    total = 0
    for tier in TIERS:
        model = text_model(tier)
        assert model.version.startswith(f"{tier}-")
        assert len(model.version) == len(tier) + 9
        assert set(HEADS) <= set(model.heads)
        for head in model.heads.values():
            assert 0.0 < head.threshold < 1.0
            assert head.platt[0] > 0  # calibration keeps the order of the raw scores
        assert 0.0 <= model.neutral_band < 1.0
        training = model.manifest["training"]
        assert set(training["corpus"]) == set(train.TASK_FILES.values())
        total += sum(p.stat().st_size for p in (shipped_dir() / tier).iterdir())
    assert total <= 10_000_000  # committed artefacts: 10 MB in all


def test_probabilities_are_in_range_and_ordered_on_plain_cases() -> None:
    model = text_model()
    texts = [
        "I'm sorry, but I can't help with that request.",
        "Here is the summary you asked for: revenue grew 4% in the quarter.",
        "You are a worthless idiot and everyone hates you.",
        "Thanks so much, this was wonderful and exactly what I needed!",
        "This is awful. It broke again and I hate it.",
    ]
    p = model.score(texts, HEADS)
    for values in p.values():
        assert np.all((values >= 0) & (values <= 1))
    assert p["refusal"][0] > model.heads["refusal"].threshold > p["refusal"][1]
    assert p["toxicity"][2] > model.heads["toxicity"].threshold > p["toxicity"][1]
    assert p["sentiment_positive"][3] > 0.5 > p["sentiment_positive"][4]
    assert p["sentiment_negative"][4] > 0.5 > p["sentiment_negative"][3]


def test_features_see_all_the_scorer_embeds() -> None:
    from llmdrift.score import metrics

    assert metrics.EMBED_CHARS == features.EMBED_CHARS <= features.TEXT_CHARS
    long = "word " * 400  # 2,000 characters: the vector the scorer stores equals the one training computed
    stored = metrics.embed_unique(metrics.encoder("static"), [long])[0][0]
    assert np.allclose(features.compute([long], ["static"])["static"][0], stored)


def test_known_static_vectors_are_reused_unless_the_mask_changed_the_text() -> None:
    texts = ["Sorry, I can't do that.", 'The bot said "I cannot help with that" again.']
    fake = np.full((2, 256), 0.5, dtype=np.float32)
    out = features.compute(texts, ["static", "masked_static"], {"static": fake})
    assert np.array_equal(out["static"], fake)
    assert np.array_equal(out["masked_static"][0], fake[0])  # nothing to mask: the known vector
    assert not np.array_equal(out["masked_static"][1], fake[1])  # masked: encoded anew
    assert features.width("masked_words") == features.HASH_BUCKETS
    with pytest.raises(ValueError, match="unknown feature block 'nope'"):
        features.compute(texts, ["nope"])


def test_masks_hide_quotations_look_alikes_and_negated_insults() -> None:
    assert "quotedtext" in refusal.masked('The bot replied "I cannot help with that" to my question.')
    assert refusal.masked("I can't wait to see it! Sorry to hear about the delay.").count("lookalike") == 2
    plain = "Sure, here is the plan."
    assert refusal.masked(plain) is plain
    assert "idiot" not in toxicity.masked("You're not an idiot; everyone misses that step.")
    assert "negatedhostility" in toxicity.masked("I don't hate them at all.")
    assert "trash" not in toxicity.masked('He wrote "you are trash" and I reported it.')
    assert toxicity.masked("You are an idiot.") == "You are an idiot."


def test_platt_recovers_a_known_logistic_model() -> None:
    rng = np.random.default_rng(7)
    z = rng.normal(0, 2, 20_000)
    y = (rng.random(z.size) < heads.sigmoid(0.5 * z - 1.0)).astype(float)
    a, b = train.platt(z, y)
    assert a == pytest.approx(0.5, abs=0.03)
    assert b == pytest.approx(-1.0, abs=0.05)


def test_threshold_f1_and_calibration_error_on_known_counts() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2])
    y = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    assert train.f1_at(p, y, 0.5) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert train.f1_at(p, y, 0.35) == pytest.approx(2 * 3 / (2 * 3 + 1))
    assert 0.31 <= train.best_threshold(p, y) <= 0.40  # the plateau between 0.3 and 0.4
    assert train.expected_calibration_error(np.array([0.25] * 4), np.array([0.0, 0.0, 0.0, 1.0])) == 0.0
    assert train.expected_calibration_error(np.array([0.9] * 2), np.array([0.0, 0.0])) == 0.9


def test_sample_weights_balance_labels_inside_a_source_and_damp_big_sources() -> None:
    rows = [train.Row(f"a{i}", "t", int(i < 10), "big", "train", False) for i in range(100)]
    rows += [train.Row(f"b{i}", "t", int(i < 5), "small", "train", False) for i in range(25)]
    w = train.sample_weights(rows, [r.label for r in rows])
    assert w.sum() == pytest.approx(len(rows))
    big_pos, big_neg = w[:10].sum(), w[10:100].sum()
    small = w[100:].sum()
    assert big_pos == pytest.approx(big_neg)
    assert (big_pos + big_neg) / small == pytest.approx(np.sqrt(100 / 25))


def test_a_missing_or_damaged_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TextModelError, match=r"not found at .*fast.*llmdrift models train"):
        load("fast", tmp_path)
    with pytest.raises(TextModelError, match="unknown text model 'huge'"):
        load("huge", tmp_path)
    shutil.copytree(shipped_dir() / "fast", tmp_path / "fast")
    manifest = json.loads((tmp_path / "fast" / heads.MANIFEST).read_text())
    manifest["heads"]["toxicity"]["offsets"]["masked_static"][0] = 10**9
    (tmp_path / "fast" / heads.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(TextModelError, match="toxicity block masked_static is out of range"):
        load("fast", tmp_path)


def test_the_weights_file_has_no_timestamp() -> None:
    data = (shipped_dir() / "fast" / heads.WEIGHTS).read_bytes()
    assert data[4:8] == b"\0\0\0\0"  # gzip MTIME field: zero, so a rebuild gives the same bytes
    assert len(gzip.decompress(data)) % 2 == 0  # float16 values


def test_sentiment_label_uses_the_band() -> None:
    assert heads.sentiment_label(None, 0.1) == 0
    assert heads.sentiment_label(0.05, 0.1) == 0
    assert heads.sentiment_label(0.3, 0.1) == 1
    assert heads.sentiment_label(-0.3, 0.1) == -1


def test_training_refuses_a_corpus_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(train.TrainError, match="labeled corpus file not found"):
        train.train(tmp_path, tmp_path / "out", ("fast",), log=lambda _: None)
    (tmp_path / "refusal.jsonl.gz").write_bytes(gzip.compress(b'{"id": "x"}\n'))
    with pytest.raises(train.TrainError, match=r"refusal\.jsonl\.gz:1"):
        train.read_task(tmp_path, "refusal")
