"""Extrinsic calibration from rendered board images recovers the true camera poses."""

from __future__ import annotations

import numpy as np
import pytest

from diffgrasp.perception.calibration import BoardConfig, calibrate_extrinsics, detect_board, render_board
from diffgrasp.perception.simulate import look_at

K = np.array([[615.0, 0.0, 319.5], [0.0, 615.0, 239.5], [0.0, 0.0, 1.0]])


def _rig_views(board: BoardConfig, board_to_world: np.ndarray):
    """Four cameras around a board lying face-up on the table (board z points down), 0.55–0.7 m away."""
    centre_b = np.array([board.size[0] / 2, board.size[1] / 2, 0.0])
    centre_w = board_to_world[:3, :3] @ centre_b + board_to_world[:3, 3]
    images, truth = {}, {}
    for i, (az, dist, el) in enumerate([(20, 0.55, 55), (115, 0.6, 45), (200, 0.65, 60), (290, 0.7, 40)]):
        a, e = np.deg2rad(az), np.deg2rad(el)
        eye = centre_w + dist * np.array([np.cos(a) * np.cos(e), np.sin(a) * np.cos(e), np.sin(e)])
        T_world = look_at(eye, centre_w)
        images[f"cam{i}"] = render_board(board, K, np.linalg.inv(board_to_world) @ T_world, 480, 640)
        truth[f"cam{i}"] = T_world
    return images, truth


@pytest.mark.parametrize("kind, squares", [("checkerboard", (9, 6)), ("charuco", (7, 5))])
def test_recovers_known_extrinsics(kind, squares):
    board = BoardConfig(kind=kind, squares_x=squares[0], squares_y=squares[1], square_size=0.035, marker_size=0.026)
    board_to_world = np.eye(4)
    board_to_world[:3, :3] = np.diag([1.0, -1.0, -1.0])    # face-up on the table: board z = world −z
    board_to_world[:3, 3] = [-0.12, 0.09, 0.0]
    images, truth = _rig_views(board, board_to_world)
    result = calibrate_extrinsics(images, {n: K for n in images}, board, board_to_world)
    for name, (T, pose) in result.items():
        err_t = np.linalg.norm(T[:3, 3] - truth[name][:3, 3])
        R = T[:3, :3].T @ truth[name][:3, :3]
        err_r = np.degrees(np.arccos(np.clip((np.trace(R) - 1) / 2, -1, 1)))
        assert err_t <= 0.002, (name, err_t)
        assert err_r <= 0.2, (name, err_r)
        assert pose.rms_px < 0.5


def test_board_not_found_and_missing_intrinsics():
    board = BoardConfig()
    blank = np.full((480, 640), 128, np.uint8)
    with pytest.raises(ValueError, match="camera c0: calibration board .* not found"):
        calibrate_extrinsics({"c0": blank}, {"c0": K}, board)
    with pytest.raises(ValueError, match="missing intrinsics for c1"):
        calibrate_extrinsics({"c1": blank}, {}, board)
    with pytest.raises(ValueError, match="ChArUco board not found"):
        detect_board(blank, BoardConfig(kind="charuco", squares_x=7, squares_y=5))


def test_symmetric_checkerboard_rejected():
    with pytest.raises(ValueError, match="must be odd"):
        BoardConfig(squares_x=8, squares_y=6)
    with pytest.raises(ValueError, match="board kind"):
        BoardConfig(kind="circles")
