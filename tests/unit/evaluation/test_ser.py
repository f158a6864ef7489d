"""SER scoring: UA / WA against hand-computed cases, class mapping, the confusion matrix."""

from __future__ import annotations

import pytest

from audioreason.evaluation.ser import CLASS_WORDS, UNPARSED, plot_confusion, predicted_class, score_ser


def test_ua_is_the_mean_of_per_class_recall_and_wa_the_share_correct():
    golds = ["ang"] * 4 + ["sad"] * 1 + ["neu"] * 5
    preds = ["ang", "ang", "ang", "sad"] + ["sad"] + ["neu", "neu", "ang", UNPARSED, UNPARSED]
    s = score_ser(golds, preds, ["ang", "hap", "neu", "sad"])
    assert s["per_class"] == {"ang": 75.0, "sad": 100.0, "neu": 40.0}  # hap has no gold item: not averaged
    assert s["ua"] == pytest.approx((75 + 100 + 40) / 3)
    assert s["wa"] == pytest.approx(60.0) and s["n"] == 10 and s["unparsed"] == 2
    assert s["confusion"]["neu"] == {"ang": 1, "hap": 0, "neu": 2, "sad": 0, UNPARSED: 2}


@pytest.mark.parametrize(
    "text, label",
    [
        ("The speaker sounds angry.", "ang"),
        ("happiness", "hap"),
        ("neutral", "neu"),
        ("It is sad", "sad"),
        ("happy or sad", UNPARSED),
        ("", UNPARSED),
        ("excited", "hap"),
    ],
)
def test_iemocap_words(text, label):
    assert predicted_class(text, CLASS_WORDS["iemocap"]) == label


def test_fau_aibo_five_classes():
    words = CLASS_WORDS["fau_aibo"]
    assert [predicted_class(t, words) for t in ("Anger", "emphatic", "neutral", "positive", "rest")] == list("AENPR")


def test_gold_outside_the_classes_is_an_error():
    with pytest.raises(ValueError, match="fru"):
        score_ser(["fru"], ["ang"], ["ang", "sad"])


def test_confusion_png(tmp_path):
    s = score_ser(["A", "E", "N"], ["A", "N", UNPARSED], list("AENPR"))
    png = plot_confusion(s, tmp_path / "c.png", "FAU-Aibo")
    assert png.stat().st_size > 2000
