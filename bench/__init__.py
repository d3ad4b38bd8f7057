"""Top-level benchmark scripts (``python -m bench.ops``); the harness itself is the installed
package ``pytransformer.bench``."""
