# SPDX-License-Identifier: Apache-2.0
"""Measuring recommendation quality: seeded splits, ranking metrics, baselines and experiments.

```python
from dsstne import evaluate as ev

split = ev.strong_generalization(ratings, heldout=0.2, target_fraction=0.2, seed=1)
ease = ev.EASE(l2=500.0).fit(split.train)
print(ev.evaluate(ease, split, ks=(10, 20, 50)))          # recall@K, ndcg@K, ... , users

results = ev.compare(ratings, seeds=(1, 2, 3), model=ev.network_model("ae.json", epochs=20))
print(ev.format_table(results))                           # model beside popularity and EASE
```

The ``dsstne evaluate`` command runs :func:`compare` on DSSTNE data text or NetCDF data sets.
"""

from .experiment import (compare, config_data_sets, evaluate, format_table,  # noqa: F401
                         network_model, train_network)
from .metrics import METRICS, ranking_metrics, top_k  # noqa: F401
from .recommenders import EASE, NetworkRecommender, Popularity, Recommender  # noqa: F401
from .splits import Split, make_split, random_split, strong_generalization  # noqa: F401

__all__ = ["Split", "strong_generalization", "random_split", "make_split", "top_k",
           "ranking_metrics", "METRICS", "Recommender", "Popularity", "EASE",
           "NetworkRecommender", "config_data_sets", "train_network", "network_model",
           "evaluate", "compare", "format_table"]
