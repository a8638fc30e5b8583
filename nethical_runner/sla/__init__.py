"""Inference latency measured against a spec's SLA, and its reports."""
