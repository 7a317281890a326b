"""The law of one tensor's flip masks as lookup tables, and the random stream that samples it (Section 3, 5.7).

Under a channel of :mod:`qtaml_theory.channels` every unprotected bit flips
independently, with a rate that depends on its position and (directional
channels) on the bit it stores. :class:`FlipLaw` turns those rates into tables:

- the bits are *virtual bits*: the stored bits themselves for a symmetric or
  per-bit channel; for a directional channel, ``2 n`` bits whose low half
  flips with ``p10`` and high half with ``p01``, and the weight's mask keeps
  the low half where it stores a 1 and the high half where it stores a 0
  (``mask = (v & code) | (v >> n & ~code)``), so that every virtual bit's rate
  is the same for every weight;
- the virtual bits split into groups of at most 8, each with a table of the
  ``2**b`` masks of its ``b`` bits (the groups are independent);
- a weight has *an event* when any virtual bit flips, with probability
  ``event_rate``; the gaps between events are geometric and have their own
  table, and an event's groups are drawn conditioned on "this group or a later
  one is nonzero".

:class:`DiscreteTable` samples a law over ``K`` outcomes from one 64-bit random
word by inversion: the word's top 16 bits pick one of 65536 slots, which names
the outcome outright unless a cumulative-probability boundary crosses it; then
37 more bits make a 53-bit uniform ``u`` that is compared with the float64
cumulative probabilities. The outcome is exactly the inverse CDF of ``u`` (the
word's top 53 bits), so each outcome's probability is exact up to the float64
cumulative sum and the ``2**-53`` grid of ``u``: an absolute error of a few
``1e-16`` (an outcome rarer than that may come out never, or too often by
that much).

The random words come from a SplitMix64 counter stream: the weights split into
chunks of :data:`CHUNK`; chunk ``c`` of a draw seeded ``s`` has the key
``mix(s ^ c * GAMMA)``, and its ``d``-th word is ``mix(key + (d + 1) * GAMMA)``
(64-bit wrap-around). A dense draw gives weight ``o`` of a chunk the words
``o * G + h`` (group ``h`` of ``G``); a sparse draw gives step ``j`` the words
``j * (G + 1)`` (the gap) and ``j * (G + 1) + 1 + h`` (group ``h``).

Per-cell rates (and a fixed chip, :class:`qtaml_tac.faults.Chip`) take the
comparison route instead, :func:`compared_masks`: bit ``b`` of cell ``i``
flips when the uniform made of the top 53 bits of word ``i * n + b`` of a
keyed stream (no chunks) is below its rate.

The compiled kernels of :mod:`qtaml_tac.flip_kernels` and the NumPy functions
here follow those definitions word for word, so they give the same masks (a
test holds them equal), in any number of threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from qtaml_theory.channels import mask_probabilities

__all__ = ["DiscreteTable", "FlipLaw", "SparseFlips", "compared_masks", "cell_uniforms", "CHUNK", "DENSE_EVENT_RATE",
           "splitmix64"]

#: Weights per chunk of the random stream (part of the stream's definition).
CHUNK = 1 << 16
#: Slots of a table: the top ``SLOT_BITS`` bits of a random word pick one.
SLOT_BITS = 16
#: A gap table covers ``L`` gaps with ``(1 - q)**L`` about ``2**-GAP_TAIL_BITS``; longer gaps skip ``L`` and redraw.
GAP_TAIL_BITS = 6
#: The skip length ``L`` of a gap table is at most this many gaps (part of the stream's definition).
MAX_GAP_OUTCOMES = 4096
#: Above this share of weights with an event, a draw visits every weight (dense) instead of jumping between events.
#: ``benchmarks/bench_injection.py`` measures the crossover at a share of about 0.22 (n = 8, 2 threads).
DENSE_EVENT_RATE = 0.2
#: A NumPy sparse draw first takes this many times the expected gap steps of a chunk, plus ``_STEP_EXTRA``, and
#: doubles them until they cover the chunk (the masks do not depend on either: only the work done does).
_STEP_MARGIN = 1.1
_STEP_EXTRA = 64

GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_LOW37 = (1 << 37) - 1


def splitmix64(x):
    """SplitMix64's output function on a ``uint64`` array (wrap-around arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MIX1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MIX2)
    return x ^ (x >> np.uint64(31))


def chunk_keys(seed, n_chunks):
    """The key of every chunk of a draw seeded ``seed``: ``mix(seed ^ c * GAMMA)``."""
    chunks = np.arange(n_chunks, dtype=np.uint64)
    return splitmix64(np.uint64(seed) ^ (chunks * np.uint64(GAMMA)))


def stream_words(keys, draws):
    """Word ``draws`` (``uint64`` array) of the chunks with ``keys``: ``mix(key + (draw + 1) * GAMMA)``."""
    return splitmix64(keys + (draws.astype(np.uint64) + np.uint64(1)) * np.uint64(GAMMA))


def cell_uniforms(key, cells, n_bits, bit):
    """The float64 uniform of bit ``bit`` of each cell in ``cells``: word ``cell * n_bits + bit`` of the stream
    keyed ``key`` (no chunks), its top 53 bits times ``2**-53``."""
    words = stream_words(np.full(1, key, dtype=np.uint64), np.asarray(cells, dtype=np.int64) * n_bits + bit)
    return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53


def compared_masks(key, codes, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates=None):
    """Masks by comparison: bit ``b < exposed`` of cell ``i`` flips when ``cell_uniforms(key, i, n_bits, b)`` is
    below its rate (``cell_rates[i]``, or the rate for the bit it stores).

    The route for per-cell rates and for a fixed chip (a fixed ``key``): the
    faults at a lower rate are then a subset of those at a higher one.
    """
    codes = np.asarray(codes, dtype=np.int64)
    cells = np.arange(codes.size, dtype=np.int64)
    mask = np.zeros(codes.size, dtype=np.int64)
    for bit in range(exposed):
        if cell_rates is None:
            rate = np.where(((codes >> bit) & 1) == 1, rates_if_one[bit], rates_if_zero[bit])
        else:
            rate = cell_rates
        mask |= (cell_uniforms(key, cells, n_bits, bit) < rate).astype(np.int64) << bit
    return mask


@dataclass(frozen=True, eq=False)
class DiscreteTable:
    """Inversion table of a law over outcomes ``0..K-1``, sampled from one 64-bit word.

    Attributes
    ----------
    slots : numpy.ndarray
        int16, ``2**SLOT_BITS`` entries: the outcome of a slot, or ``-(j + 1)``
        when the slot holds a boundary and ``j`` is the first outcome it meets.
    cdf : numpy.ndarray
        float64 cumulative probabilities, ``cdf[0] = 0``, ``cdf[K] = 1``.
    """

    slots: np.ndarray
    cdf: np.ndarray

    @classmethod
    def from_probabilities(cls, probabilities):
        """The table of ``probabilities`` (non-negative, normalized here)."""
        probabilities = np.asarray(probabilities, dtype=np.float64)
        k = probabilities.size
        if not 1 <= k < 1 << 15 or not np.all(probabilities >= 0) or not probabilities.sum() > 0:
            raise ValueError(f"a table needs 1..32767 non-negative probabilities with a positive sum, got {k}")
        cdf = np.empty(k + 1)
        cdf[0] = 0.0
        cdf[1:] = np.cumsum(probabilities / probabilities.sum())
        cdf[-1] = 1.0
        edges = np.arange((1 << SLOT_BITS) + 1, dtype=np.float64) / (1 << SLOT_BITS)
        first = np.minimum(np.searchsorted(cdf, edges[:-1], side="right") - 1, k - 1)
        whole = edges[1:] <= cdf[first + 1]
        return cls(np.where(whole, first, -(first + 1)).astype(np.int16), cdf)

    def sample(self, words):
        """The outcome (int64) of each 64-bit word in ``words``."""
        slot = (words >> np.uint64(64 - SLOT_BITS)).astype(np.int64)
        outcome = self.slots[slot].astype(np.int64)
        boundary = np.flatnonzero(outcome < 0)
        if boundary.size:
            fraction = (words[boundary] >> np.uint64(11)).astype(np.int64) & _LOW37
            u = ((slot[boundary] << 37) | fraction).astype(np.float64) * 2.0**-53
            j = -outcome[boundary] - 1
            while True:
                step = u >= self.cdf[j + 1]
                if not step.any():
                    break
                j += step
            outcome[boundary] = j
        return outcome


@dataclass(frozen=True)
class SparseFlips:
    """The events of a sparse draw: the weights with a nonzero virtual mask (sorted) and their XOR masks."""

    positions: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class FlipLaw:
    """Tables of one tensor's flip masks under a channel (see the module notes).

    Build with :meth:`from_rates`; sample with :meth:`dense` or :meth:`sparse`
    (NumPy) or the compiled twins in :mod:`qtaml_tac.flip_kernels`.

    Attributes
    ----------
    n_bits : int
    directional : bool
        Whether virtual bits ``n..2n-1`` carry the 0 -> 1 rates.
    shifts : tuple of int
        Bit offset of each group with a nonzero rate.
    groups, conditioned : tuple of DiscreteTable
        Each group's mask table, and its table given "this or a later group is nonzero".
    event_rate : float
        Probability that a weight's virtual mask is nonzero.
    gaps : DiscreteTable or None
        Gaps ``0..gap_skip - 1`` between events, outcome ``gap_skip`` meaning "skip ``gap_skip``, redraw".
    gap_skip : int
    """

    n_bits: int
    directional: bool
    shifts: tuple
    groups: tuple
    conditioned: tuple
    event_rate: float
    gaps: DiscreteTable | None
    gap_skip: int

    @classmethod
    def from_rates(cls, rates_if_zero, rates_if_one, exposed):
        """The law of a tensor's masks under a channel and protection (cached).

        Parameters
        ----------
        rates_if_zero, rates_if_one : sequence of float
            ``rates_if_b[i]``: the flip rate of bit ``i`` when it stores ``b``
            (equal for symmetric and per-bit channels).
        exposed : int
            Bits ``>= exposed`` (the top ``n - exposed``, protected) never flip.

        Returns
        -------
        FlipLaw

        Examples
        --------
        >>> from qtaml_tac.flip_law import FlipLaw
        >>> law = FlipLaw.from_rates([0.01] * 8, [0.01] * 8, 8)
        >>> round(law.event_rate, 6), law.dense_regime    # 1 - 0.99**8: sparse draws
        (0.077255, False)
        """
        zero = np.array(rates_if_zero, dtype=np.float64)
        one = np.array(rates_if_one, dtype=np.float64)
        return _law(zero.tobytes(), one.tobytes(), zero.size, int(exposed))

    @property
    def dense_regime(self):
        """Whether a draw visits every weight (``event_rate >= DENSE_EVENT_RATE``)."""
        return self.event_rate >= DENSE_EVENT_RATE

    def select(self, virtual, codes):
        """XOR masks of the weights storing ``codes`` from their virtual masks."""
        if not self.directional:
            return virtual
        full = (1 << self.n_bits) - 1
        return ((virtual & codes) | ((virtual >> self.n_bits) & ~codes)) & full

    @cached_property
    def kernel_arrays(self):
        """The tables as the compiled kernels read them, built once per law.

        Returns
        -------
        dict
            ``shifts`` (int64); ``event_slots``/``event_cdfs``: row ``h`` group
            ``h``'s table and row ``H + h`` its conditioned one (``H`` groups;
            cdf rows padded with 1), so that a sparse draw picks a table by
            index; ``slots``/``cdfs``: the first ``H`` rows, the groups' tables.
        """
        def stacked(tables):
            slots = np.stack([t.slots for t in tables]) if tables else np.zeros((0, 1 << SLOT_BITS), np.int16)
            cdfs = np.ones((len(tables), max((t.cdf.size for t in tables), default=1)))
            for row, table in zip(cdfs, tables):
                row[: table.cdf.size] = table.cdf
            return slots, cdfs

        slots, cdfs = stacked(self.groups + self.conditioned)
        groups = len(self.groups)
        return {"shifts": np.array(self.shifts, dtype=np.int64), "slots": slots[:groups], "cdfs": cdfs[:groups],
                "event_slots": slots, "event_cdfs": cdfs}

    def dense(self, codes, seed):
        """Every weight's XOR mask, one word per group per weight (NumPy).

        Parameters
        ----------
        codes : array of int
            The stored codes (directional channels select by their bits).
        seed : int
            The draw's seed, ``0 <= seed < 2**64``.

        Returns
        -------
        numpy.ndarray
            int64 masks, one per code.
        """
        codes = np.asarray(codes, dtype=np.int64)
        offsets = np.arange(codes.size, dtype=np.int64)
        keys = chunk_keys(seed, -(-codes.size // CHUNK))[offsets // CHUNK]
        virtual = np.zeros(codes.size, dtype=np.int64)
        n_groups = len(self.groups)
        for h, (shift, table) in enumerate(zip(self.shifts, self.groups)):
            virtual |= table.sample(stream_words(keys, (offsets % CHUNK) * n_groups + h)) << shift
        return self.select(virtual, codes)

    def sparse(self, codes, seed):
        """The weights with a flip and their masks, by jumping geometric gaps chunk by chunk (NumPy).

        Parameters
        ----------
        codes : array of int
        seed : int
            The draw's seed, ``0 <= seed < 2**64``.

        Returns
        -------
        SparseFlips
            Sorted positions and int32 masks (a directional mask may be 0).
        """
        codes = np.asarray(codes, dtype=np.int64)
        n_chunks = -(-codes.size // CHUNK)
        keys = chunk_keys(seed, n_chunks)
        positions, virtual = [], []
        stride = len(self.groups) + 1
        for c in range(n_chunks):
            start, stop = c * CHUNK, min(codes.size, (c + 1) * CHUNK)
            gaps, steps = self._gaps_until(keys[c], stop - start, stride)
            skip = gaps == self.gap_skip
            before = np.concatenate([[0], np.cumsum(np.where(skip, self.gap_skip, gaps + 1))[:-1]])
            event = ~skip & (start + before + gaps < stop)
            positions.append(start + before[event] + gaps[event])
            virtual.append(self._event_masks(keys[c], steps[event] * stride))
        positions = np.concatenate(positions) if positions else np.empty(0, np.int64)
        virtual = np.concatenate(virtual) if virtual else np.empty(0, np.int64)
        return SparseFlips(positions, self.select(virtual, codes[positions]).astype(np.int32))

    def _gaps_until(self, key, length, stride):
        """Gap outcomes of steps ``0, 1, ...`` of one chunk (words ``step * stride``) until they pass ``length``."""
        keys = np.full(1, key, dtype=np.uint64)
        mean_advance = (1.0 - (1.0 - self.event_rate) ** self.gap_skip) / self.event_rate
        count = int(length / mean_advance * _STEP_MARGIN) + _STEP_EXTRA
        while True:
            steps = np.arange(count, dtype=np.int64)
            gaps = self.gaps.sample(stream_words(keys, steps * stride))
            advance = np.where(gaps == self.gap_skip, self.gap_skip, gaps + 1)
            if advance.sum() >= length:
                return gaps, steps
            count *= 2

    def _event_masks(self, key, first_words):
        """Virtual masks of events whose gap took words ``first_words``: group h uses the word ``1 + h`` after."""
        keys = np.full(1, key, dtype=np.uint64)
        virtual = np.zeros(first_words.size, dtype=np.int64)
        conditioned = np.ones(first_words.size, dtype=bool)
        for h, shift in enumerate(self.shifts):
            words = stream_words(keys, first_words + 1 + h)
            mask = np.where(conditioned, self.conditioned[h].sample(words), self.groups[h].sample(words))
            conditioned &= mask == 0
            virtual |= mask << shift
        return virtual


@lru_cache(maxsize=256)
def _law(zero_bytes, one_bytes, n_bits, exposed):
    rates_if_zero = np.frombuffer(zero_bytes, dtype=np.float64).copy()
    rates_if_one = np.frombuffer(one_bytes, dtype=np.float64).copy()
    rates_if_zero[exposed:] = rates_if_one[exposed:] = 0.0
    directional = not np.array_equal(rates_if_zero, rates_if_one)
    virtual = np.concatenate([rates_if_one, rates_if_zero]) if directional else rates_if_zero
    shifts, groups, log_zeros = [], [], []
    for shift in range(0, virtual.size, 8):
        rates = virtual[shift: shift + 8]
        if rates.any():
            probabilities = mask_probabilities(rates)
            shifts.append(shift)
            groups.append(probabilities)
            log_zeros.append(float(np.log1p(-rates).sum()) if (rates < 1).all() else -math.inf)
    zeros = [math.exp(log_zero) for log_zero in log_zeros]
    # tail[h]: P(group h or a later one is nonzero), as -expm1 of the log of its complement: no cancellation
    # to 0 when every rate is below the float spacing at 1 (rates of 1e-20 and less).
    tail, log_stay = [0.0] * (len(groups) + 1), 0.0
    for h in reversed(range(len(groups))):
        log_stay += log_zeros[h]
        tail[h] = -math.expm1(log_stay)
    conditioned = []
    for h, probabilities in enumerate(groups):
        given = probabilities / tail[h]
        given[0] = zeros[h] * tail[h + 1] / tail[h]
        conditioned.append(given)
    event_rate = tail[0]
    gaps, skip = None, 0
    if event_rate == 1:
        gaps, skip = DiscreteTable.from_probabilities([1.0, 0.0]), 1
    elif event_rate > 0:
        log_stay = math.log1p(-event_rate)
        skip = int(np.clip(math.ceil(-GAP_TAIL_BITS * math.log(2) / log_stay), 1, MAX_GAP_OUTCOMES))
        gap_probabilities = np.append(event_rate * np.exp(np.arange(skip) * log_stay), math.exp(skip * log_stay))
        gaps = DiscreteTable.from_probabilities(gap_probabilities)
    return FlipLaw(n_bits, directional, tuple(shifts), tuple(DiscreteTable.from_probabilities(p) for p in groups),
                   tuple(DiscreteTable.from_probabilities(p) for p in conditioned), event_rate, gaps, skip)
