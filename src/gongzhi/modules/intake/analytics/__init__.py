"""Pure analytics of citizen requests: text, routing classifier, MinHash, hot topics, latency."""
