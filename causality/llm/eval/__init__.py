"""``causality eval-llm``: how well a model answers questions about the demo shop's data.

``dataset`` builds the eval warehouse and loads the question set (gold SQL), ``harness`` asks
each question through the real ask pipeline and scores it, ``compare`` decides whether two
results are the same answer. See docs/llm.md, "Evaluating a model".
"""
