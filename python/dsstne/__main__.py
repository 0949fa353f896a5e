# SPDX-License-Identifier: Apache-2.0
"""``python -m dsstne <tool> [flags]``: the ``dsstne`` command, where its script is not on PATH."""

from .cli import main

raise SystemExit(main())
