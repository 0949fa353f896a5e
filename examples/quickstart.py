# SPDX-License-Identifier: Apache-2.0
"""Quick start: train a sparse autoencoder recommender and print top-10 recommendations.

The data is generated (users in taste groups over a Zipf-popular catalogue), so this runs
anywhere with no download. Run it with `scripts/quickstart.sh`, or `python examples/quickstart.py`
once dsstne is installed.
"""

import time

import dsstne
from dsstne import examples, synthetic

USERS, ITEMS, GROUPS = 3000, 2000, 8

# DSSTNE's JSON language: a sparse input, one hidden layer, a sigmoid output over every item
# (installed with the package: python -m dsstne.examples autoencoder.json prints it).
CONFIG = examples.path("autoencoder.json")


def main():
    matrix = synthetic.interactions(USERS, ITEMS, per_user=25, groups=GROUPS, zipf=0.6, seed=1)
    data = dsstne.DataSet("ratings", matrix)
    print(f"data: {data.examples} users x {data.units} items, {data.nnz} interactions "
          f"({100 * data.density:.2f}% dense)")
    net = dsstne.Network(CONFIG, data, batch=256, seed=12134)
    start = time.perf_counter()
    net.train(12, alpha=0.01, optimizer="adam", mu=0.9, mu1=0.999, lambda_=0.0,
              callback=lambda e: print(f"epoch {e['epoch']:2d}  error {e['error']:8.3f}  "
                                       f"({e['seconds']:.2f} s)"))
    print(f"trained in {time.perf_counter() - start:.1f} s")

    scores, items = net.predict_topk(10, exclude="input")
    in_group = sum(int(i) % GROUPS == u % GROUPS for u in range(USERS) for i in items[u])
    print(f"{100 * in_group / (10 * USERS):.1f}% of recommendations match the user's taste group "
          f"(random: {100 / GROUPS:.1f}%)")
    for user in range(5):
        recs = ", ".join(f"{i}:{s:.2f}" for i, s in zip(items[user], scores[user]))
        print(f"user {user} (group {synthetic.group_of(user, GROUPS)}): {recs}")


if __name__ == "__main__":
    main()
