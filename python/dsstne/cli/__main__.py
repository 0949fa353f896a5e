# SPDX-License-Identifier: Apache-2.0
"""``python -m dsstne.cli <tool> [flags]``: the ``dsstne`` command."""

from . import main

raise SystemExit(main())
