"""Constant-velocity Kalman filters for many tracks at once: position and body orientation.

Each track filters three quantities — x, y (px) and the body axis θ (rad) — each with its rate of
change (px/frame, rad/frame) under white-noise acceleration. Detections measure x and y with the
same isotropic noise, so x and y stay independent with identical covariances; θ has its own. A
track's uncertainty is therefore two 2×2 (value, rate) covariances, *channels* 0 (position, shared
by x and y) and 1 (orientation), held as three numbers each: prediction over ``dt`` frames, update
and Mahalanobis distances are a few array operations for every track together.

Body axes are undirected, so an orientation innovation is wrapped to [-π/2, π/2): a detection at
179° is 2° from a track at 1°.
"""

from __future__ import annotations

import numpy as np

# Which covariance channel each filtered quantity (x, y, θ) uses.
CHANNEL_OF = np.array([0, 0, 1])


def wrap_axis(delta: np.ndarray) -> np.ndarray:
    """Undirected angle differences wrapped to [-π/2, π/2)."""
    return np.mod(delta + np.pi / 2, np.pi) - np.pi / 2


def predict_covariance(cov: np.ndarray, dt: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Per-channel covariances (n, 2, 3) after ``dt`` (n,) frames; ``noise`` (2,) variances."""
    dt = dt[:, None]
    dt2 = dt * dt
    pp, pv, vv = cov[..., 0], cov[..., 1], cov[..., 2]
    out = np.empty_like(cov)
    out[..., 0] = pp + 2 * dt * pv + dt2 * vv + noise * (dt2 * dt2 / 4)
    out[..., 1] = pv + dt * vv + noise * (dt2 * dt / 2)
    out[..., 2] = vv + noise * dt2
    return out


def predict_value(value: np.ndarray, rate: np.ndarray, dt: np.ndarray) -> np.ndarray:
    return value + rate * dt[:, None]


def update(
    predicted_value: np.ndarray,
    rate: np.ndarray,
    predicted_cov: np.ndarray,
    innovation: np.ndarray,
    measurement_variance: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fold measurements into predicted states; returns the new value, rate and covariance.

    ``predicted_value`` (n, 3) and ``predicted_cov`` (n, 2, 3) are the states already predicted
    to the measurement's frame (:func:`predict_value`, :func:`predict_covariance`), ``rate``
    (n, 3) the rates before it; ``innovation`` (n, 3) is measured minus predicted (NaN: not
    measured); ``measurement_variance`` (n, 2) per channel (``inf`` = not measured).
    """
    pp, pv = predicted_cov[..., 0], predicted_cov[..., 1]
    # An unmeasured channel (infinite variance) gets zero gain: it is only predicted.
    inverse = 1.0 / (pp + measurement_variance)
    gain_value = pp * inverse
    gain_rate = pv * inverse
    innovation = np.where(np.isnan(innovation), 0.0, innovation)
    new_value = predicted_value + gain_value[:, CHANNEL_OF] * innovation
    new_rate = rate + gain_rate[:, CHANNEL_OF] * innovation
    new_cov = np.empty_like(predicted_cov)
    new_cov[..., 0] = (1 - gain_value) * pp
    new_cov[..., 1] = (1 - gain_value) * pv
    new_cov[..., 2] = predicted_cov[..., 2] - gain_rate * pv
    return new_value, new_rate, new_cov


def initial_covariance(n: int, value_variance: np.ndarray, rate_variance: np.ndarray):
    """(n, 2, 3) covariances with the given per-channel value and rate variances."""
    cov = np.zeros((n, 2, 3))
    cov[..., 0] = value_variance
    cov[..., 2] = rate_variance
    return cov
