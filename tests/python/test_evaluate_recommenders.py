# SPDX-License-Identifier: Apache-2.0
"""dsstne.evaluate.recommenders: EASE equals a direct NumPy computation in both of its forms,
popularity ranks with ties by item id, and the network wrapper equals predict + top_k."""

import numpy as np
import pytest
import scipy.sparse as sp

import dsstne
from dsstne import synthetic
from dsstne.evaluate import (EASE, NetworkRecommender, Popularity, compare, config_data_sets,
                             evaluate, format_table, strong_generalization, top_k,
                             train_network)

CONFIG = {
    "Version": 0.7, "Name": "AE", "Kind": "FeedForward",
    "Layers": [
        {"Name": "Input", "Kind": "Input", "N": "auto", "DataSet": "x_in", "Sparse": True},
        {"Name": "Hidden", "Kind": "Hidden", "Type": "FullyConnected", "N": 8,
         "Activation": "Sigmoid", "Sparse": True},
        {"Name": "Output", "Kind": "Output", "Type": "FullyConnected", "DataSet": "x_out",
         "N": "auto", "Activation": "Sigmoid", "Sparse": True}],
    "ErrorFunction": "CrossEntropy",
}


def direct_ease(x, l2):
    """Steck 2019 written out: B = -P / diag(P) column by column, diag(B) = 0."""
    x = x.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.mark.parametrize("users, items", [(40, 12), (9, 25)])   # item space, user space
@pytest.mark.parametrize("l2", [0.5, 500.0])
def test_ease_equals_numpy(users, items, l2):
    x = sp.random(users, items, density=0.3, random_state=users, format="csr")
    x.data[:] = 3.0                              # values are ignored
    expected = direct_ease(x != 0, l2)
    ease = EASE(l2).fit(x)
    assert np.abs(ease.item_weights() - expected).max() < 1e-10
    inputs = sp.random(7, items, density=0.25, random_state=1, format="csr")
    inputs.data[:] = 1.0
    scores = inputs.toarray() @ expected
    assert np.abs(ease.scores(inputs) - scores).max() < 1e-10
    # Binary data makes exact ties between items common, and scores equal to 1e-10 may order
    # them either way: the lists are checked against the model's own scores.
    assert np.array_equal(ease.recommend(inputs, 5), top_k(ease.scores(inputs), inputs, 5))
    assert np.array_equal(ease.recommend(inputs, 5, batch=2), ease.recommend(inputs, 5))


def test_ease_errors():
    with pytest.raises(ValueError, match="l2"):
        EASE(0.0)
    with pytest.raises(ValueError, match="not fitted"):
        EASE().recommend(sp.csr_matrix((1, 3)), 2)
    with pytest.raises(MemoryError, match=r"20 training users × 10 items.*10 × 10"):
        EASE(max_dense=5).fit(sp.random(20, 10, density=0.5, format="csr"))
    ease = EASE().fit(sp.random(5, 10, density=0.5, format="csr"))
    with pytest.raises(ValueError, match="inputs have 11 items.*fitted on 10"):
        ease.recommend(sp.csr_matrix((1, 11)), 2)


def test_popularity_ranks_by_count_with_ties_by_item():
    train = sp.csr_matrix(np.array([[1, 1, 1, 0, 0],
                                    [1, 1, 0, 0, 1],
                                    [0, 1, 1, 0, 0]]))    # counts 2, 3, 2, 0, 1
    pop = Popularity().fit(train)
    inputs = sp.csr_matrix(np.array([[0, 0, 0, 0, 0], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1]]))
    assert pop.recommend(inputs, 6).tolist() == [[1, 0, 2, 4, 3, -1],
                                                 [0, 2, 4, 3, -1, -1],
                                                 [-1] * 6]


@pytest.fixture
def ratings():
    return synthetic.interactions(120, 40, per_user=8, seed=3)


def test_network_recommender_equals_predict_and_top_k(ratings, device):
    split = strong_generalization(ratings, heldout=0.25, seed=5)
    net = train_network(CONFIG, split, epochs=3, batch=16, device=device, seed=9,
                        alpha=0.5, optimizer="sgd")
    assert net.layer("Input").size == 40 and net.epochs_trained == 3
    rec = NetworkRecommender(net).fit(split.train)
    scores = net.predict(dsstne.DataSet("x_in", split.eval_input, boolean=True))
    expected = top_k(scores, split.eval_input, 10)
    assert np.array_equal(rec.recommend(split.eval_input, 10), expected)
    assert np.array_equal(rec.recommend(split.eval_input, 10, batch=7), expected)
    # data with fewer items than the network's units: the extra units are never recommended
    narrow = split.eval_input[:, :30]
    got = rec.recommend(narrow, 35)
    wide = sp.csr_matrix((narrow.data, narrow.indices, narrow.indptr), shape=(narrow.shape[0], 40))
    plain = net.predict(dsstne.DataSet("x_in", wide, boolean=True))[:, :30]
    assert np.array_equal(got, top_k(plain, narrow, 35))
    assert got.max() < 30 and (got[:, -5:] == -1).all()
    with pytest.raises(ValueError, match="41 items but input layer 'Input'"):
        rec.recommend(sp.csr_matrix((2, 41)), 3)


def test_network_recommender_needs_one_output_layer(ratings):
    split = strong_generalization(ratings, seed=1)
    net = train_network(CONFIG, split, epochs=0, batch=16)
    with pytest.raises(ValueError, match="no layer 'Nope'"):
        NetworkRecommender(net, "Nope")
    assert NetworkRecommender(net, "Hidden").units == 8


def test_compare_and_table(ratings):
    split = strong_generalization(ratings, seed=2)
    result = evaluate(EASE(10.0).fit(split.train), split, ks=(5, 10))
    assert result["users"] == 24 and 0 < result["recall@10"] <= 1 and result["seconds"] >= 0

    def model(s):
        net = train_network(CONFIG, s, epochs=2, batch=16, seed=s.seed, alpha=0.5)
        return NetworkRecommender(net).fit(s.train)

    results = compare(ratings, seeds=(1, 2), ks=(5, 10), model=model, model_name="ae",
                      ease_l2=10.0)
    names = [m["name"] for m in results["models"]]
    assert names == ["ae", "popularity", "EASE(λ=10)"]
    ease = results["models"][2]
    assert [r["seed"] for r in ease["per_seed"]] == [1, 2]
    values = [r["ndcg@10"] for r in ease["per_seed"]]
    assert ease["mean"]["ndcg@10"] == pytest.approx(np.mean(values))
    assert ease["std"]["ndcg@10"] == pytest.approx(np.std(values, ddof=1))
    # the same seeds give the same numbers
    again = compare(ratings, seeds=(1, 2), ks=(5, 10), ease_l2=10.0)
    assert again["models"][1]["per_seed"][1]["map@5"] == ease["per_seed"][1]["map@5"]
    table = format_table(results)
    assert "Recall@K" in table and "EASE(λ=10)" in table and "±" in table
    assert len(table.splitlines()) == 3 + 2 * 3


def test_config_data_sets_reads_the_engine_s_json(tmp_path):
    text = """// DSSTNE's parser takes comments and keys in any case
    {"layers": [{"name": "a", "kind": "input", "dataset": "in_x", "N": "auto"}, /* hidden */
                {"Name": "h", "Kind": "Hidden", "N": 4},
                {"Name": "o", "KIND": "Output", "DataSet": "out_x", "N": "auto"}]}"""
    (tmp_path / "c.json").write_text(text)
    assert config_data_sets(tmp_path / "c.json") == (["in_x"], ["out_x"])
    assert config_data_sets(CONFIG) == (["x_in"], ["x_out"])
    assert config_data_sets('{"Layers": {"Kind": "Input", "DataSet": "x // y"}}') == (
        ["x // y"], [])
    with pytest.raises(ValueError, match="c.json: not a valid JSON"):
        (tmp_path / "c.json").write_text("{nope")
        config_data_sets(tmp_path / "c.json")
