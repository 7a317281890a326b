"""The protection schemes' error laws against a brute-force reference written here.

Independent of the implementation (written from the definitions only, without
reading ``qtaml_theory.ecc`` or ``qtaml_theory.protection.codes``): every flip
pattern of every stored bit involved (data bits, repetition copies, all the
bits of a codeword including its check bits) is enumerated, weighted by
``p**w (1-p)**(L-w)`` in exact Fractions, decoded by a decoder written here
from the definition, and the weight's error law is assembled from the
per-plane outcomes (planes independent) and the positions in the word (uniform
mixture). Exact routes (``pmf``, ``mean``, ``var``) must match exactly.

Conventions of the reference:

* offset binary: ``decode(q) = q - 2**(n-1)`` (units of Delta, Delta = 1).
* A block code is linear and its decoder acts on the syndrome only, so the
  stored codeword is taken to be all zeros in the self-written reference (the
  residual error pattern then is the decoded word itself); the galois
  cross-check (test 5) encodes random data instead, to show that the choice
  does not matter.
* Codeword layout (galois' systematic layout): the shortened cyclic code's
  word is a polynomial of degree < L; check bits are the coefficients of
  x^0..x^(r-1) (r = deg g), data bits those of x^r..x^(L-1). SECDED appends
  the overall parity bit as an extra position.
* Bounded-distance decoding: the syndrome of an error pattern e(x) is
  e(x) mod g(x); the decoder corrects the unique pattern of weight <= t on the
  L codeword positions with that syndrome, otherwise reports a detected
  failure (a pattern that would need a shortened-away position is a failure).
"""

import itertools
import math
from fractions import Fraction

import galois
import numpy as np
import pytest

from qtaml_theory import WeightError, get_encoding
from qtaml_theory.protection import BCH, SECDED, IdealMSB, Repetition, Unprotected

P = Fraction(1, 10)
P7 = Fraction(1, 7)
PRIMITIVE = {3: 0b1011, 4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10001001, 8: 0b100011101}


# -- reference: values, moments ----------------------------------------------------------------------------------

def decode(n, q):
    return Fraction(q - 2 ** (n - 1))


def moments(pmf):
    mean = sum(x * w for x, w in pmf.items())
    var = sum((x - mean) ** 2 * w for x, w in pmf.items())
    m3 = sum((x - mean) ** 3 * w for x, w in pmf.items())
    m4 = sum((x - mean) ** 4 * w for x, w in pmf.items())
    skew = float(m3) / float(var) ** 1.5 if var else 0.0
    kurt = float(m4 / var**2 - 3) if var else 0.0
    return mean, var, skew, kurt


def as_fraction_pmf(pmf):
    out = {}
    for x, w in pmf.items():
        key = Fraction(x)
        out[key] = out.get(key, 0) + Fraction(w)
    return {x: w for x, w in out.items() if w != 0}


def check_law(law, ref):
    """``ref``: {error: probability} (Fractions). Exact pmf, mean and var; skew/kurtosis to 1e-12."""
    assert sum(ref.values()) == 1
    got = as_fraction_pmf(law.pmf())
    assert got == {x: w for x, w in ref.items() if w != 0}
    mean, var, skew, kurt = moments(ref)
    assert Fraction(law.mean()) == mean
    assert Fraction(law.var()) == var
    assert float(law.skewness()) == pytest.approx(skew, rel=1e-12, abs=1e-15)
    assert float(law.excess_kurtosis()) == pytest.approx(kurt, rel=1e-12, abs=1e-15)


# -- reference: codes -------------------------------------------------------------------------------------------

def poly_mod(a, g):
    """a(x) mod g(x) over GF(2), polynomials as ints (bit b = coefficient of x^b)."""
    dg = g.bit_length() - 1
    while a and a.bit_length() - 1 >= dg:
        a ^= g << (a.bit_length() - 1 - dg)
    return a


def gf_mul(a, b, m):
    """Product in GF(2^m) = GF(2)[x] / PRIMITIVE[m], elements as ints."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        b >>= 1
        a <<= 1
        if a >> m:
            a ^= PRIMITIVE[m]
    return out


def bch_generator(m, t):
    """g(x) of the narrow-sense binary BCH code of length 2^m - 1 (alpha = x), as an int:
    the product of (x - alpha^e) over the cyclotomic cosets of 1..2t, in our own GF(2^m)."""
    nn = 2**m - 1
    power = [1]
    for _ in range(nn):
        power.append(gf_mul(power[-1], 2, m))
    assert power[nn] == 1 and len(set(power[:nn])) == nn  # x is primitive
    exps = set()
    for j in range(1, 2 * t + 1):
        e = j % nn
        while e not in exps:
            exps.add(e)
            e = (2 * e) % nn
    g = [1]  # coefficients, lowest degree first
    for e in sorted(exps):
        root = power[e]
        shifted = [0] + g
        scaled = [gf_mul(c, root, m) for c in g] + [0]
        g = [a ^ b for a, b in zip(shifted, scaled)]
    assert set(g) <= {0, 1}
    return sum(c << i for i, c in enumerate(g))


def bch_shape(data_bits, t):
    """(m, r = deg g, g) for the smallest m in 3..8 whose BCH dimension holds data_bits."""
    for m in range(3, 9):
        g = bch_generator(m, t)
        r = g.bit_length() - 1
        if 2**m - 1 - r >= data_bits:
            return m, r, g
    raise ValueError("too large for this reference")


def syndrome_table(L, g, t):
    """Syndrome -> correction pattern (int over the L positions), patterns of weight <= t."""
    table = {}
    for w in range(t + 1):
        for pos in itertools.combinations(range(L), w):
            e = sum(1 << b for b in pos)
            s = poly_mod(e, g)
            assert s not in table, "two patterns of weight <= t share a syndrome"
            table[s] = e
    return table


def outcome_counts(L, data_positions, decoder):
    """For each data position: {(residual bit, failure): [patterns counted by weight]} over all 2**L patterns."""
    counts = {i: {} for i in data_positions}
    for e in range(2**L):
        w = bin(e).count("1")
        residual, fail = decoder(e)
        for i in data_positions:
            key = ((residual >> i) & 1, fail)
            counts[i].setdefault(key, [0] * (L + 1))[w] += 1
    return counts


def plane_laws(L, counts, p):
    """Per position: {(residual bit, failure): probability} (exact)."""
    p = Fraction(p)
    powers = [p**w * (1 - p) ** (L - w) for w in range(L + 1)]
    return [
        {key: sum(c * pw for c, pw in zip(byw, powers)) for key, byw in counts[i].items()}
        for i in sorted(counts)
    ]


def bch_decoder(L, g, t):
    table = syndrome_table(L, g, t)

    def dec(e):
        s = poly_mod(e, g)
        if s in table:
            return e ^ table[s], False
        return e, True  # detected failure: data as read

    return dec


def secded_decoder(d):
    """The (d + r + 1) extended Hamming word; the parity bit is position L-1 (= d + r)."""
    m, r, g = bch_shape(d, 1)
    Lh = d + r
    single = {poly_mod(1 << b, g): b for b in range(Lh)}

    def dec(e):
        s = poly_mod(e & ((1 << Lh) - 1), g)
        odd = bin(e).count("1") % 2 == 1
        if odd:
            if s == 0:
                return e, False  # the parity bit flipped; data untouched
            if s in single:
                return e ^ (1 << single[s]), False
            return e, True
        if s != 0:
            return e, True  # double error detected
        return e, False

    return dec, Lh + 1, list(range(r, r + d))


_COUNT_CACHE = {}


def secded_counts(d):
    if ("secded", d) not in _COUNT_CACHE:
        dec, L, data = secded_decoder(d)
        _COUNT_CACHE["secded", d] = (L, outcome_counts(L, data, dec))
    return _COUNT_CACHE["secded", d]


def bch_counts(d, t):
    if ("bch", d, t) not in _COUNT_CACHE:
        m, r, g = bch_shape(d, t)
        L = d + r
        _COUNT_CACHE["bch", d, t] = (L, outcome_counts(L, list(range(r, L)), bch_decoder(L, g, t)))
    return _COUNT_CACHE["bch", d, t]


def block_weight_law(n, code, p, k, positions, on_failure):
    """The weight's law: unprotected bits flip with p; protected plane j's bit per ``positions[i]``,
    independent planes, the same position i in every plane, i uniform."""
    p = Fraction(p)
    x0 = decode(n, code)
    pmf = {}
    for plane in positions:
        for free in range(2 ** (n - k)):
            w_free = p ** bin(free).count("1") * (1 - p) ** (n - k - bin(free).count("1"))
            for outs in itertools.product(plane.items(), repeat=k):
                prob = w_free / len(positions)
                flips = free
                failed = False
                for j, ((bit, fail), q) in enumerate(outs):
                    prob *= q
                    flips |= bit << (n - k + j)
                    failed |= fail
                if on_failure == "zero" and failed:
                    err = -x0
                else:
                    err = decode(n, code ^ flips) - x0
                pmf[err] = pmf.get(err, 0) + prob
    return pmf


def binomial_tail(L, p, t):
    """P(Binomial(L, p) > t), exact."""
    p = Fraction(p)
    return 1 - sum(math.comb(L, w) * p**w * (1 - p) ** (L - w) for w in range(t + 1))


# -- 0. the encoding and the trivial schemes ---------------------------------------------------------------------

@pytest.mark.parametrize("n", [4, 5])
def test_offset_binary_and_trivial_schemes(n):
    """Catches: a wrong decode convention, IdealMSB flipping its bits, Unprotected != no protection."""
    enc = get_encoding("offset_binary", n)
    for code in range(2**n):
        assert Fraction(enc.decode(code)) == decode(n, code)
        assert [int(b) for b in enc.bits(code)] == [(code >> i) & 1 for i in range(n)]
    for code in (0, 5, 2**n - 1):
        for k, scheme in ((0, Unprotected()), (2, IdealMSB(2))):
            ref = {}
            for f in range(2 ** (n - k)):
                w = bin(f).count("1")
                err = decode(n, code ^ f) - decode(n, code)
                ref[err] = ref.get(err, 0) + P**w * (1 - P) ** (n - k - w)
            check_law(WeightError(enc, code, P, delta=1.0, protection=scheme), ref)


# -- 1. repetition -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,k,copies", [(4, 1, 3), (4, 2, 3), (5, 2, 3), (5, 1, 5), (5, 2, 5), (4, 3, 3)])
def test_repetition_law_by_enumeration(n, k, copies):
    """All flips of the n-k free bits and of the k*copies stored copies, majority per bit.
    Catches: majority threshold off by one, copies not independent, protecting the wrong
    (bottom) bits, a cost not k*(copies-1)."""
    enc = get_encoding("offset_binary", n)
    scheme = Repetition(k, copies=copies)
    assert scheme.codeword_bits == copies
    assert scheme.cost_bits_per_weight(n) == k * (copies - 1)
    assert Fraction(scheme.uncorrectable_probability(P)) == binomial_tail(copies, P, copies // 2)
    L = (n - k) + k * copies
    for code in (0, 6, 2**n - 1, 2 ** (n - 1)):
        ref = {}
        for pat in range(2**L):
            w = bin(pat).count("1")
            flips = pat & ((1 << (n - k)) - 1)
            for j in range(k):
                cps = (pat >> (n - k + j * copies)) & ((1 << copies) - 1)
                if bin(cps).count("1") > copies // 2:
                    flips |= 1 << (n - k + j)
            err = decode(n, code ^ flips) - decode(n, code)
            ref[err] = ref.get(err, 0) + P7**w * (1 - P7) ** (L - w)
        check_law(WeightError(enc, code, P7, delta=1.0, protection=scheme), ref)


# -- 2. SECDED (13, 8) -------------------------------------------------------------------------------------------

def test_secded_13_8_shape():
    """Catches: a wrong Hamming length/check-bit count for 8 data bits, a parity bit left out of the cost."""
    m, r, g = bch_shape(8, 1)
    assert (m, r, g) == (4, 4, 0b10011)  # the (15,11) cyclic Hamming code, g = x^4 + x + 1
    scheme = SECDED(1, data_bits=8)
    assert scheme.codeword_bits == 13
    assert scheme.cost_bits_per_weight(4) == Fraction(5, 8)
    assert SECDED(2, data_bits=8).storage_bits(17, 4) == 2 * 3 * 5
    assert Fraction(scheme.uncorrectable_probability(P)) == binomial_tail(13, P, 1)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("on_failure", ["keep", "zero"])
def test_secded_13_8_law_by_enumeration(k, on_failure):
    """All 2**13 error patterns of a (13,8) word, per data position. Catches: a wrong parity
    rule (e.g. correcting on even parity, or treating a parity-bit flip as a failure), a
    miscorrection counted as success/failure the wrong way, failure policy 'zero' applied
    per plane instead of per weight, planes not independent, a non-uniform position mixture."""
    n = 4
    L, counts = secded_counts(8)
    positions = plane_laws(L, counts, P)
    enc = get_encoding("offset_binary", n)
    scheme = SECDED(k, data_bits=8, on_failure=on_failure)
    for code in (0, 5, 9, 15):
        ref = block_weight_law(n, code, P, k, positions, on_failure)
        check_law(WeightError(enc, code, P, delta=1.0, protection=scheme), ref)


def test_secded_13_8_law_at_one_seventh():
    """Same at p = 1/7 (a rate with a different denominator, catches rounded or float internals)."""
    n, k = 4, 2
    L, counts = secded_counts(8)
    positions = plane_laws(L, counts, P7)
    enc = get_encoding("offset_binary", n)
    for on_failure in ("keep", "zero"):
        scheme = SECDED(k, data_bits=8, on_failure=on_failure)
        ref = block_weight_law(n, 6, P7, k, positions, on_failure)
        check_law(WeightError(enc, 6, P7, delta=1.0, protection=scheme), ref)


# -- 3. BCH ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "data_bits,t,length",
    [(4, 1, 7), (5, 2, 13), (4, 2, 12), (8, 1, 12), (7, 2, 15)],
)
@pytest.mark.parametrize("on_failure", ["keep", "zero"])
def test_bch_law_by_enumeration(data_bits, t, length, on_failure):
    """All 2**L error patterns of a shortened BCH word, bounded-distance decoded by a syndrome
    table written here. Catches: the wrong field size m, the wrong generator (e.g. non
    narrow-sense, or a different primitive polynomial), correcting patterns that need a
    shortened-away position, miscorrections (weight > t patterns landing in another coset
    leader's syndrome) treated as failures or vice versa, and check bits not flipping."""
    m, r, g = bch_shape(data_bits, t)
    assert data_bits + r == length
    n, k = 4, 1
    L, counts = bch_counts(data_bits, t)
    positions = plane_laws(L, counts, P)
    enc = get_encoding("offset_binary", n)
    scheme = BCH(k, data_bits=data_bits, t=t, on_failure=on_failure)
    assert scheme.codeword_bits == L
    assert scheme.cost_bits_per_weight(n) == Fraction(k * r, data_bits)
    assert scheme.storage_bits(3 * data_bits + 1, n) == k * 4 * r
    assert Fraction(scheme.uncorrectable_probability(P)) == binomial_tail(L, P, t)
    for code in (0, 5, 12):
        ref = block_weight_law(n, code, P, k, positions, on_failure)
        check_law(WeightError(enc, code, P, delta=1.0, protection=scheme), ref)


def test_bch_two_planes_n5():
    """k = 2 planes of the (13,5) t=2 code, n = 5, both policies (catches plane coupling)."""
    n, k = 5, 2
    L, counts = bch_counts(5, 2)
    positions = plane_laws(L, counts, P7)
    enc = get_encoding("offset_binary", n)
    for on_failure in ("keep", "zero"):
        scheme = BCH(k, data_bits=5, t=2, on_failure=on_failure)
        for code in (3, 22):
            ref = block_weight_law(n, code, P7, k, positions, on_failure)
            check_law(WeightError(enc, code, P7, delta=1.0, protection=scheme), ref)


# -- 4. (72, 64) numbers -----------------------------------------------------------------------------------------

def test_secded_72_64_numbers():
    """Catches: a tail P(X >= 1) or P(X > 2) instead of P(X > 1), a length of 71 or 73, float
    cancellation in 1 - P(0) - P(1) at small p, a cost of 7/64 (parity forgotten)."""
    m, r, g = bch_shape(64, 1)
    assert (m, r) == (7, 7)
    scheme = SECDED(8)
    assert scheme.codeword_bits == 72
    assert scheme.cost_bits_per_weight(8) == Fraction(1)
    assert SECDED(3).cost_bits_per_weight(8) == Fraction(3, 8)
    assert SECDED(3).storage_bits(1000, 8) == 3 * 16 * 8
    assert SECDED(3).storage_bits(1024, 8) == 3 * 16 * 8
    assert SECDED(3).storage_bits(1025, 8) == 3 * 17 * 8
    for p, approx in ((1e-4, 2.5e-5), (1e-3, 2.4e-3), (1e-2, 0.16), (0.1, 0.995)):
        exact = binomial_tail(72, Fraction(p), 1)
        got = scheme.uncorrectable_probability(p)
        assert float(got) == pytest.approx(float(exact), rel=1e-12)
        assert float(exact) == pytest.approx(approx, rel=0.05)
    assert scheme.uncorrectable_probability(Fraction(1, 7)) == binomial_tail(72, Fraction(1, 7), 1)
    for d, L in ((8, 13), (16, 22), (32, 39), (64, 72)):
        assert SECDED(1, data_bits=d).codeword_bits == L
        assert SECDED(1, data_bits=d).cost_bits_per_weight(8) == Fraction(L - d, d)


# -- 5. galois cross-check of the decoder through the law --------------------------------------------------------

# galois' JIT compilation (field, BCH construction, Berlekamp-Massey) costs 20-90 s of wall time on a
# loaded 2-core box, over the suite's budget: run on demand with ``pytest -m slow``.
@pytest.mark.slow
def test_secded_13_8_law_with_galois_decoder():
    """Per-position residual law of SECDED(1, 8) with galois' BCH(15,11) decoder on the shortened
    (12,8) Hamming word plus our parity rule, random data encoded by galois; then the weight law.
    Catches a decoder (ours or theirs) that differs from a standard bounded-distance decoder,
    e.g. one correcting into shortened-away positions."""
    field = galois.GF(2**4, irreducible_poly=galois.Poly.Int(PRIMITIVE[4]))
    ham = galois.BCH(15, 11, extension_field=field)
    assert int(ham.generator_poly) == bch_generator(4, 1)  # our reference generator agrees with galois
    d, Lh = 8, 12
    L = Lh + 1
    rng = np.random.default_rng(7)
    pats = np.arange(2**L)
    errs = ((pats[:, None] >> np.arange(L)[None, ::-1]) & 1).astype(np.uint8)  # column 0 = MSB
    msgs = rng.integers(0, 2, size=(2**L, d)).astype(np.uint8)
    words = ham.encode(galois.GF2(msgs)).view(np.ndarray)
    parity = words.sum(axis=1) % 2
    stored = np.concatenate([words, parity[:, None]], axis=1).astype(np.uint8)
    received = stored ^ errs
    dec, nerr = ham.decode(galois.GF2(received[:, :Lh]), errors=True)
    dec = np.asarray(dec.view(np.ndarray), dtype=np.uint8)
    nerr = np.asarray(nerr)
    odd = (received.sum(axis=1) % 2) == 1
    fail = np.where(odd, nerr < 0, nerr != 0)
    data_read = received[:, :d]
    out = np.where(fail[:, None], data_read, dec)
    residual = out ^ msgs
    weights = errs.sum(axis=1)
    powers = [P**w * (1 - P) ** (L - w) for w in range(L + 1)]
    positions = []
    for i in range(d):
        law = {}
        for bit in (0, 1):
            for f in (False, True):
                sel = (residual[:, i] == bit) & (fail == f)
                byw = np.bincount(weights[sel], minlength=L + 1)
                if byw.sum():
                    law[bit, f] = sum(int(c) * pw for c, pw in zip(byw, powers))
        positions.append(law)
    # the same per-position laws (as a set: the data order may differ) as our own decoder's
    ours = plane_laws(*secded_counts(8), P)
    assert sorted(sorted(x.items()) for x in positions) == sorted(sorted(x.items()) for x in ours)
    enc = get_encoding("offset_binary", 4)
    for on_failure in ("keep", "zero"):
        for code in (2, 13):
            ref = block_weight_law(4, code, P, 1, positions, on_failure)
            law = WeightError(enc, code, P, delta=1.0, protection=SECDED(1, 8, on_failure=on_failure))
            check_law(law, ref)
