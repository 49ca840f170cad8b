"""ProxylessNAS (Cai et al., 2019): ``ProxylessNasSearcher``, its binarized paths and latency model."""

from archai.algos.proxylessnas.latency import LatencyTable, latency_loss, measure_table
from archai.algos.proxylessnas.searcher import ProxylessArchStep, ProxylessNasSearcher

__all__ = ["LatencyTable", "ProxylessArchStep", "ProxylessNasSearcher", "latency_loss", "measure_table"]
