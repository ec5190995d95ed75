"""Smooth ECE (smECE) of Blasiok & Nakkiran: kernel-smoothed residuals on an FFT grid, sigma* by bisection."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.fft
from numpy.typing import ArrayLike

from trustaudit.metrics._binning import _top_label
from trustaudit._validation import check_probs_labels

_SMECE_SIGMA_MIN = 1e-4
_SMECE_POINTS_PER_SIGMA = 20
_SMECE_EVAL_POINTS_PER_SIGMA = 10
_SMECE_TOL = 1e-7
_SMECE_BOOTSTRAP_TOL = 1e-5
_SMECE_BOOTSTRAP_GRID_MAX = 1 << 14


def _smece_grid(sigma: float) -> int:
    """Grid intervals M (a power of two, >= 256) giving a spacing of at most sigma / 20."""
    target = max(256, math.ceil(_SMECE_POINTS_PER_SIGMA / sigma))
    return 1 << (target - 1).bit_length()


def _smece_deposit(scores: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid cell and linear-interpolation weights putting each score onto the grid j / m."""
    position = scores * m
    cell = np.minimum(np.floor(position).astype(np.int64), m - 1)
    upper = position - cell
    return cell, 1.0 - upper, upper


def _smece_spectrum(grid_mass: np.ndarray) -> np.ndarray:
    """Fourier coefficients of grid masses on [0, 1] reflected onto the circle [0, 2).

    Reflecting about 0 and 1 and wrapping with period 2 turns the reflected Gaussian
    kernel into an ordinary periodic Gaussian, so smoothing is one FFT product.
    """
    m = grid_mass.shape[-1] - 1
    circle = np.zeros(grid_mass.shape[:-1] + (2 * m,))
    circle[..., : m + 1] = grid_mass
    circle[..., m + 1 :] = grid_mass[..., m - 1 : 0 : -1]
    circle[..., 0] += grid_mass[..., 0]
    circle[..., m] += grid_mass[..., m]
    return scipy.fft.rfft(circle, axis=-1)


def _smece_at(spectrum: np.ndarray, sigma: np.ndarray, m: int) -> np.ndarray:
    """smECE_sigma = integral over [0, 1] of |kernel-smoothed residual density| (trapezoid rule).

    The DFT of a periodic Gaussian (period 2) sampled at spacing 1/m is
    m * sum_p exp(-pi^2 sigma^2 (f + 2 m p)^2 / 2). Frequencies whose gain is below
    e^-40 are dropped and the aliased terms p = +-1 are kept only when the kernel is
    narrow enough for them to matter. The smoothed curve is then band-limited, so it is
    evaluated exactly on a coarser grid of spacing <= sigma / 10 (the trapezoid rule of a
    smooth periodic curve converges fast; only the kinks of |.| at zero crossings cost
    accuracy, O(spacing^2)).
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    narrowest = float(np.min(sigma))
    half = (np.pi * sigma[..., None]) ** 2 / 2.0
    top = min(m, math.ceil(2.9 / narrowest))
    points = min(m, 1 << (max(top + 1, math.ceil(_SMECE_EVAL_POINTS_PER_SIGMA / narrowest)) - 1).bit_length())
    freq = np.arange(top + 1, dtype=np.float64)
    gain = np.exp(-half * freq**2)
    if top == m:
        gain = gain + np.exp(-half * (freq - 2 * m) ** 2) + np.exp(-half * (freq + 2 * m) ** 2)
    smoothed = scipy.fft.irfft(spectrum[..., : top + 1] * (points * gain), n=2 * points, axis=-1)
    magnitude = np.abs(smoothed[..., : points + 1])
    return (magnitude.sum(axis=-1) - (magnitude[..., 0] + magnitude[..., -1]) / 2.0) / points


def _fixed_point(value_at: Callable[[np.ndarray], np.ndarray], size: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Solve smECE_sigma = sigma by bisection on [1e-4, 1], vectorised over ``size`` problems.

    smECE_sigma does not increase with sigma (reflected Gaussian smoothing is a
    contraction semigroup), so smECE_sigma - sigma is decreasing and the root is unique.
    Returns (smECE at the root, the root). When smECE_1e-4 <= 1e-4 already the width is
    clamped at 1e-4 and smECE at that width is returned.
    """
    floor = np.full(size, _SMECE_SIGMA_MIN)
    at_floor = value_at(floor)
    clamped = at_floor <= floor
    if clamped.all():
        return at_floor, floor
    low, high = floor.copy(), np.ones(size)
    for _ in range(math.ceil(math.log2((1.0 - _SMECE_SIGMA_MIN) / tol))):
        middle = (low + high) / 2.0
        above = value_at(middle) > middle
        low = np.where(above, middle, low)
        high = np.where(above, high, middle)
    root = (low + high) / 2.0
    return np.where(clamped, at_floor, root), np.where(clamped, floor, root)


def _smooth_ece(scores: np.ndarray, outcomes: np.ndarray) -> tuple[float, float]:
    """(smECE, sigma*) of forecasts ``scores`` for 0/1 ``outcomes``; grid refined with sigma."""
    residual = (outcomes - scores) / scores.shape[0]
    spectra: dict[int, np.ndarray] = {}

    def value_at(sigma: np.ndarray) -> np.ndarray:
        m = _smece_grid(float(sigma[0]))
        if m not in spectra:
            cell, lower, upper = _smece_deposit(scores, m)
            mass = np.bincount(cell, lower * residual, m + 1) + np.bincount(cell + 1, upper * residual, m + 1)
            spectra[m] = _smece_spectrum(mass)
        return _smece_at(spectra[m], sigma, m)

    value, sigma = _fixed_point(value_at, 1, _SMECE_TOL)
    return float(value[0]), float(sigma[0])


def smooth_calibration_error(probs: ArrayLike, labels: ArrayLike) -> float:
    """Top-label smooth ECE (smECE) of Blasiok & Nakkiran, in [0, 1].

    With residuals r_i = 1[correct_i] - conf_i and the Gaussian kernel reflected at 0
    and 1, K_sigma(t, c) = sum_m phi_sigma(t - c - 2m) + phi_sigma(t + c - 2m):
    smECE_sigma = integral_0^1 |(1/n) sum_i K_sigma(t, conf_i) r_i| dt, and smECE is
    smECE_sigma* at the unique sigma* with smECE_sigma* = sigma* (found by bisection to
    1e-7; width clamped at 1e-4). Numerically, the rows are spread onto a grid of
    spacing <= sigma/20 by linear interpolation and smoothed by FFT; the result agrees
    with direct summation to about 1e-3 relative. Blasiok & Nakkiran, "Smooth ECE:
    Principled Reliability Diagrams via Kernel Smoothing", ICLR 2024.

    Parameters
    ----------
    probs : array-like of shape (n, k)
        Predicted class probabilities, rows summing to 1.
    labels : array-like of shape (n,)
        Integer gold labels in ``[0, k)``.

    Returns
    -------
    float
        The smooth ECE.

    Examples
    --------
    >>> from trustaudit.metrics import smooth_calibration_error
    >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    >>> round(smooth_calibration_error(probs, [0, 1, 1, 0]), 3)
    0.138
    """
    p, y = check_probs_labels(probs, labels)
    return _smooth_ece(*_top_label(p, y))[0]
