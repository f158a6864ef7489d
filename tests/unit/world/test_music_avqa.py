"""Tests of the MUSIC-AVQA writer: template answers follow from the ensemble's ground truth."""

from __future__ import annotations

import json


def test_template_answers_recomputed_from_the_ensemble(world, truth):
    by_clip = {t["clip"]: t for t in truth}
    words = ["zero", "one", "two", "three", "four"]
    n_checked = 0
    for split in ("train", "val", "test"):
        for x in json.loads((world / "music_avqa" / "json_update" / f"avqa-{split}.json").read_text()):
            t = by_clip[f"music_avqa/audio/{x['video_id']}.wav"]
            sounding = [p for p in t["players"] if p["sounding"]]
            q, v = x["question_content"][:-1], json.loads(x["templ_values"])
            expected = {
                "How many musical instruments were heard throughout the video": words[len(sounding)],
                "How many instruments are sounding in the video": words[len(sounding)],
                "How many types of musical instruments appeared in the entire video": words[len(t["players"])],
                "Where is the performance": "indoor" if t["indoor"] else "outdoor",
                "Is there a voiceover": "yes" if t["voiceover"] else "no",
                "Is there a <Object> sound": "yes" if v and v[0] in {p["instrument"] for p in sounding} else "no",
            }.get(q)
            if q == "Is the <Object> louder than the <Object>":
                a, b = (next(p for p in sounding if p["instrument"] == i) for i in v)
                expected = "yes" if a["gain_db"] > b["gain_db"] else "no"
            if expected is not None:
                assert x["anser"] == expected, (x, t)
                n_checked += 1
    assert n_checked > 5


def test_visual_record_shows_instruments_not_who_sounds(truth):
    from audioreason.world.music_avqa import visual_record

    line = next(t for t in truth if t["dataset"] == "music_avqa")
    record = visual_record(line)
    assert record["visible"] == [f"{p['instrument']} ({p['position']})" for p in line["players"]]
    assert record["setting"] == ("indoor" if line["indoor"] else "outdoor")
    assert "sounding" not in json.dumps(record)
