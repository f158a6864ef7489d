"""SSEU-Bench scorers (paper 05 §2.2-3): WER, eq. 1 (ASC softmax), eqs. 2-3 (AT sigmoid + max pooling), mACC, mAP."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from audioreason.evaluation.sseu import (
    CachedEmbedding,
    HashingEmbedding,
    average_precision,
    event_confidences,
    macro_accuracy,
    mean_average_precision,
    normalise,
    parse_joint,
    scene_confidences,
    split_events,
    wer,
)

SCENES = ["home", "restaurant", "city center", "grocery store", "metro station", "residential area"]
EVENTS = [
    "Alarm bell ringing",
    "Blender",
    "Cat",
    "Dishes",
    "Dog",
    "Electric shaver toothbrush",
    "Frying",
    "Running water",
    "Vacuum cleaner",
    "birds singing",
    "brakes squeaking",
    "car",
    "cash register",
    "coffee machine",
    "door opens/closes",
    "footsteps",
    "furniture dragging",
    "large vehicle",
]


class FakeEmbedding:
    """Unit vectors chosen so that every cosine similarity is known."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = {k: np.asarray(v, float) / np.linalg.norm(v) for k, v in vectors.items()}

    def __call__(self, texts):
        return np.stack([self.vectors[t] for t in texts])


def test_wer_by_hand():
    # "the cat sat on the mat" -> "the cat sit on mat": one substitution, one deletion of 6 words.
    assert wer(["The cat sat on the mat."], ["the cat sit on mat"]) == pytest.approx(100 * 2 / 6)
    # Corpus WER weights by reference length: (2 + 3) / (6 + 3).
    assert wer(["the cat sat on the mat", "a red dog"], ["the cat sit on mat", ""]) == pytest.approx(100 * 5 / 9)
    assert wer(["Hello, World!"], ["hello world"]) == 0.0
    assert wer(["a well-known place"], ["a well known place"]) == 0.0
    assert normalise("Don't STOP-now") == "dont stop now"
    with pytest.raises(ValueError, match="empty after normalisation"):
        wer(["..."], ["x"])
    with pytest.raises(ValueError, match="1 references but 2"):
        wer(["a"], ["a", "b"])


def test_eq1_is_a_softmax_of_cosines():
    # pred . home = 1, pred . restaurant = 0, pred . city = cos(60 deg) = 0.5
    emb = FakeEmbedding(
        {"pred": [1, 0, 0], "home": [1, 0, 0], "restaurant": [0, 1, 0], "city": [0.5, math.sqrt(3) / 2, 0]}
    )
    c = scene_confidences("pred", ["home", "restaurant", "city"], emb)
    z = np.exp([1.0, 0.0, 0.5])
    np.testing.assert_allclose(c, z / z.sum())
    assert c.sum() == pytest.approx(1.0)


def test_eq2_eq3_sigmoid_then_max_over_predicted_events():
    emb = FakeEmbedding(
        {
            "dog barking": [1, 0, 0],
            "kettle": [0, 0, 1],
            "Dog": [1, 0, 0],
            "Cat": [0.6, 0.8, 0],
            "Blender": [0, 0.6, 0.8],
        }
    )
    p = event_confidences(["dog barking", "kettle"], ["Dog", "Cat", "Blender"], emb)
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    # F = sigmoid([[1, .6, 0], [0, 0, .8]]); p = column max.
    np.testing.assert_allclose(p, [sig(1.0), sig(0.6), sig(0.8)])
    np.testing.assert_array_equal(event_confidences([], ["Dog", "Cat"], emb), [0.0, 0.0])


def test_macro_accuracy_and_average_precision_by_hand():
    conf = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
    assert macro_accuracy(["a", "a", "b", "b"], conf, ["a", "b"]) == pytest.approx(75.0)  # (1/2 + 2/2) / 2
    # Positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2.
    assert average_precision([True, False, True, False], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    rng = np.random.default_rng(0)
    labels, scores = rng.random(50) < 0.3, rng.random(50)
    assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores))
    # Ties form one threshold step, as in scikit-learn (the usual AT mAP).
    tied = rng.integers(0, 3, 50) / 2
    assert average_precision(labels, tied) == pytest.approx(average_precision_score(labels, tied))
    assert average_precision([True, False], [0.5, 0.5]) == pytest.approx(0.5)
    # No answer, or a tie at the top, is never credited to the first scene.
    assert macro_accuracy(["a", "b"], np.array([[np.nan, np.nan], [0.5, 0.5]]), ["a", "b"]) == 0.0
    golds = [{"x"}, {"y"}, {"x", "y"}]
    conf = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.7, 0.6, 0.0]])
    assert mean_average_precision(golds, conf, ["x", "y", "z"]) == pytest.approx(100.0)  # z has no positive
    with pytest.raises(ValueError, match="at least one positive"):
        average_precision([False], [0.3])


def test_ground_truth_as_prediction_reaches_the_upper_bounds():
    emb = CachedEmbedding(HashingEmbedding())
    rng = np.random.default_rng(1)
    scenes = [SCENES[i] for i in rng.integers(len(SCENES), size=60)]
    events = [set(rng.choice(EVENTS, size=rng.integers(1, 4), replace=False)) for _ in range(60)]
    texts = ["please call stella", "ask her to bring these things"] * 30
    assert wer(texts, texts) == 0.0
    asc = np.stack([scene_confidences(s, SCENES, emb) for s in scenes])
    assert macro_accuracy(scenes, asc, SCENES) == 100.0
    at = np.stack([event_confidences(sorted(e), EVENTS, emb) for e in events])
    assert mean_average_precision(events, at, EVENTS) == 100.0
    assert np.isnan(scene_confidences("", SCENES, emb)).all()
    # and a wrong prediction loses: every clip called "home".
    wrong = np.stack([scene_confidences("home", SCENES, emb) for _ in scenes])
    assert macro_accuracy(scenes, wrong, SCENES) == pytest.approx(100 / 6)


def test_hashing_embedding_is_deterministic_and_normalised():
    e = HashingEmbedding()
    a, b, c = e(["metro station", "metro station", "home"])
    assert np.array_equal(a, e(["metro station"])[0]) and np.linalg.norm(a) == pytest.approx(1.0)
    assert a @ b == pytest.approx(1.0) and a @ c < 0.5
    calls = []
    cached = CachedEmbedding(lambda t: (calls.append(list(t)), e(t))[1])
    cached(["x", "y", "x"]), cached(["y", "z"])
    assert calls == [["x", "y"], ["z"]]


def test_joint_answers_parse_robustly():
    a = parse_joint("Transcript: Please call Stella.\nScene: Home.\nEvents: Dog, Blender and cat")
    assert (a.transcript, a.scene, a.events, a.missing) == (
        "Please call Stella.",
        "Home",
        ("Dog", "Blender", "cat"),
        (),
    )
    j = parse_joint('{"transcript": "hi", "scene": "metro station", "events": ["car", "footsteps"]}')
    assert (j.scene, j.events, j.missing) == ("metro station", ("car", "footsteps"), ())
    cot = parse_joint(
        "1. Energy & onset: speech starts at 1 s\n2. ASR: hi there\n3. Scene candidates: home, restaurant\n"
        "4. Event candidates: dog, cat\n5. Correction: drop cat\nFinal answer:\n**Transcript:** hi there\n"
        "**Scene:** home\n**Events:** dog"
    )
    assert (cot.transcript, cot.scene, cot.events, cot.missing) == ("hi there", "home", ("dog",), ())
    caps = parse_joint('Sure:\n```json\n{"Transcript": "hi", "Scene": "home", "Events": ["dog"]}\n```')
    assert (caps.transcript, caps.scene, caps.events, caps.missing) == ("hi", "home", ("dog",), ())
    nextline = parse_joint("Transcript:\nplease call stella\nScene:\nhome\nEvents:\n")
    assert (nextline.transcript, nextline.scene, nextline.missing) == ("please call stella", "home", ("events",))
    broken = parse_joint("I think it is a kitchen with a dog.")
    assert broken.missing == ("transcript", "scene", "events") and broken.events == ()
    assert split_events("None") == [] and split_events("car; wind blowing") == ["car", "wind blowing"]


def test_openai_compatible_endpoint_is_called_as_documented(monkeypatch):
    """A real HTTP round trip on loopback: POST {base}/embeddings with model and input, bearer key,
    rows put back in ``index`` order and L2-normalised."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from audioreason.evaluation.sseu import openai_embedding

    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.update(path=self.path, auth=self.headers["Authorization"], body=body)
            data = [{"index": i, "embedding": [float(len(t)), 0.0, 3.0]} for i, t in enumerate(body["input"])]
            payload = json.dumps({"data": data[::-1]}).encode()  # out of order on purpose
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("TEST_EMBED_KEY", "sk-test")
        embed = openai_embedding(
            f"http://127.0.0.1:{server.server_port}/v1", "text-embedding-3-large", api_key_env="TEST_EMBED_KEY"
        )
        v = embed(["home", "metro station"])
    finally:
        server.shutdown()
    assert seen["path"] == "/v1/embeddings" and seen["auth"] == "Bearer sk-test"
    assert seen["body"] == {"model": "text-embedding-3-large", "input": ["home", "metro station"]}
    np.testing.assert_allclose(v[0], np.array([4.0, 0.0, 3.0]) / 5.0)  # "home": length 4
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), [1.0, 1.0])
