"""Segment counting throughput on a realistic mix of shop texts."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from comptoir.messaging.encoding import analyze, count_segments, split

SAMPLES = [
    "Optique Lumière : vos lunettes sont prêtes ! Passez quand vous voulez, 9h-19h.",
    "Bonjour {name}, rappel de votre RDV demain à 10h30 chez Optique Lumière. "
    "Répondez C pour confirmer, A pour annuler. STOP au 36xxx",
    "-20% sur les montures solaires jusqu'à dimanche, code SOLEIL. Prix en € TTC [offre "
    "limitée]. Détails : https://ol.example/l/abc123 STOP au 36xxx",
    "Joyeux anniversaire ! 🎉 Un cadeau vous attend en boutique cette semaine 🎁",
    "Chúc mừng sinh nhật! Cửa hàng tặng bạn voucher giảm 15% trong tháng này.",
    "Your order #1042 has shipped. Track it: https://ol.example/t/1042",
    "Merci pour votre achat ! Notez-nous de 1 à 5 en répondant à ce SMS.",
]


def corpus(size: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(size):
        text = rng.choice(SAMPLES)
        texts.append(text * rng.choice((1, 1, 1, 2, 3)))
    return texts


def rate(fn: Callable[[str], object], texts: list[str], rounds: int) -> float:
    """Median messages per second over `rounds` passes."""
    figures = []
    for _ in range(rounds):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        figures.append(len(texts) / (time.perf_counter() - start))
    return statistics.median(figures)


def run(*, messages: int = 200_000, rounds: int = 5) -> dict[str, float]:
    texts = corpus(messages)
    return {
        "count_segments": rate(count_segments, texts, rounds),
        "analyze (smart encoding)": rate(analyze, texts, rounds),
        "split": rate(split, texts, rounds),
    }
