"""Extrinsic calibration of a multi-camera rig from one planar board seen by every camera (OpenCV).

Board frame (OpenCV convention): origin at the outer corner of square (0, 0), x along ``squares_x``, y along
``squares_y``, z = x × y pointing *into* the board, so the printed face looks towards −z and a camera in front of it
sits at negative z; metres. A board lying face-up on the table therefore has its z axis pointing down (world −z).
``checkerboard``: square (0, 0) is black; use ``squares_x + squares_y`` odd so a 180° turn is distinguishable
(checked by the square colour at corner 0). ``charuco``: OpenCV ChArUco (unique marker ids).

Per camera: detect → ``solvePnP`` (iterative, refined by Levenberg–Marquardt) → board_to_camera; then
``camera_to_world = board_to_world @ inv(board_to_camera)``. :func:`render_board` draws a synthetic image of the board
(for tests and for checking a rig's coverage).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["BoardConfig", "BoardPose", "board_texture", "render_board", "detect_board", "estimate_board_pose",
           "calibrate_extrinsics"]

BOARD_KINDS = ("checkerboard", "charuco")


@dataclass(frozen=True)
class BoardConfig:
    """Calibration board. Sizes in metres; ``dictionary`` is an OpenCV ArUco dictionary name (ChArUco only)."""

    kind: str = "checkerboard"
    squares_x: int = 9
    squares_y: int = 6
    square_size: float = 0.03
    marker_size: float = 0.022
    dictionary: str = "DICT_5X5_100"

    def __post_init__(self) -> None:
        if self.kind not in BOARD_KINDS:
            raise ValueError(f"board kind must be one of {', '.join(BOARD_KINDS)}, got {self.kind!r}")
        if self.squares_x < 3 or self.squares_y < 3:
            raise ValueError("board needs at least 3 × 3 squares")
        if self.kind == "checkerboard" and (self.squares_x + self.squares_y) % 2 == 0:
            raise ValueError("checkerboard: squares_x + squares_y must be odd (else a 180° turn is ambiguous)")

    @property
    def size(self) -> tuple[float, float]:
        return self.squares_x * self.square_size, self.squares_y * self.square_size

    def inner_corners(self) -> np.ndarray:
        """(N, 3) inner corner positions in the board frame, row-major in (y, x) = OpenCV's checkerboard order."""
        nx, ny = self.squares_x - 1, self.squares_y - 1
        j, i = np.meshgrid(np.arange(1, ny + 1), np.arange(1, nx + 1), indexing="ij")
        return np.stack([i.ravel(), j.ravel(), np.zeros(nx * ny)], axis=1) * self.square_size

    def charuco(self) -> cv2.aruco.CharucoBoard:
        d = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_size, self.marker_size, d)


@dataclass
class BoardPose:
    """board_to_camera (4, 4); rms reprojection error px; number of corners used."""

    board_to_camera: np.ndarray
    rms_px: float
    corners: int


def board_texture(board: BoardConfig, px_per_square: int = 100) -> np.ndarray:
    """(squares_y·p, squares_x·p) uint8 image of the board face, row 0 at board y = 0, column 0 at x = 0."""
    p = px_per_square
    if board.kind == "charuco":
        img = board.charuco().generateImage((board.squares_x * p, board.squares_y * p), marginSize=0)
        return np.ascontiguousarray(img)
    j, i = np.meshgrid(np.arange(board.squares_y * p) // p, np.arange(board.squares_x * p) // p, indexing="ij")
    return np.where((i + j) % 2 == 0, 0, 255).astype(np.uint8)


def render_board(board: BoardConfig, K: np.ndarray, camera_to_board: np.ndarray, height: int, width: int,
                 supersample: int = 4, border_squares: float = 1.0, background: int = 110) -> np.ndarray:
    """Synthetic (H, W) uint8 image of the board (white border of ``border_squares``) seen by a pinhole camera with
    intrinsics K at ``camera_to_board`` (optical frame pose in the board frame); ``supersample``² rays per pixel."""
    tex = board_texture(board)
    s = supersample
    # supersampled pixel centres → normalised camera rays (float32, one component at a time: cheap on large grids)
    u = ((np.arange(width * s, dtype=np.float32) - (s - 1) / 2) / s - K[0, 2]) / K[0, 0]
    v = ((np.arange(height * s, dtype=np.float32) - (s - 1) / 2) / s - K[1, 2]) / K[1, 1]
    R = camera_to_board[:3, :3].astype(np.float32)
    o = camera_to_board[:3, 3]
    d = [R[k, 0] * u[None, :] + R[k, 1] * v[:, None] + R[k, 2] for k in range(3)]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.float32(-o[2]) / d[2]
    x = np.float32(o[0]) + d[0] * t
    y = np.float32(o[1]) + d[1] * t
    sx, sy = board.size
    b = border_squares * board.square_size
    hit = (t > 0) & (x >= -b) & (x <= sx + b) & (y >= -b) & (y <= sy + b)
    on = hit & (x >= 0) & (x < sx) & (y >= 0) & (y < sy)
    img = np.where(hit, np.uint8(255), np.uint8(background))
    scale = tex.shape[1] / sx
    col = np.clip((x[on] * scale).astype(np.int64), 0, tex.shape[1] - 1)
    row = np.clip((y[on] * scale).astype(np.int64), 0, tex.shape[0] - 1)
    img[on] = tex[row, col]
    img = img.reshape(height, s, width, s).mean(axis=(1, 3), dtype=np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _check_orientation(image: np.ndarray, corners: np.ndarray, board: BoardConfig) -> np.ndarray:
    """Reverse a checkerboard corner list if square (0, 0) (diagonally outside corner 0) is not black."""
    nx = board.squares_x - 1
    c0, c_diag = corners[0], corners[nx + 1]          # corner (1, 1) and (2, 2) in square units
    probe = c0 + (c0 - c_diag) * 0.5                   # centre of square (0, 0)
    h, w = image.shape
    u, v = int(round(probe[0])), int(round(probe[1]))
    if not (0 <= u < w and 0 <= v < h):
        return corners
    return corners if image[v, u] < 128 else corners[::-1].copy()


def detect_board(image: np.ndarray, board: BoardConfig) -> tuple[np.ndarray, np.ndarray]:
    """Board corners in a (H, W) uint8 grey (or (H, W, 3) RGB) image → (N, 2) pixels and (N, 3) board-frame points.

    Raises ValueError when the board is not found (or fewer than 6 ChArUco corners are seen)."""
    img = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else np.asarray(image, dtype=np.uint8)
    if board.kind == "checkerboard":
        pattern = (board.squares_x - 1, board.squares_y - 1)
        flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
        found, corners = cv2.findChessboardCorners(img, pattern, flags=flags)
        if found:
            corners = cv2.cornerSubPix(img, corners, (5, 5), (-1, -1),
                                       (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-4))
        else:  # the sector-based detector copes with blur and harsh lighting (slower)
            found, corners = cv2.findChessboardCornersSB(img, pattern, flags=cv2.CALIB_CB_ACCURACY)
            if not found:
                raise ValueError(f"calibration board ({pattern[0]}x{pattern[1]} inner corners) not found")
        corners = _check_orientation(img, corners.reshape(-1, 2).astype(np.float64), board)
        return corners, board.inner_corners()
    detector = cv2.aruco.CharucoDetector(board.charuco())
    ch_corners, ch_ids, _, _ = detector.detectBoard(img)
    if ch_ids is None or len(ch_ids) < 6:
        raise ValueError(f"ChArUco board not found ({0 if ch_ids is None else len(ch_ids)} corners, need ≥ 6)")
    obj = board.charuco().getChessboardCorners()[ch_ids.ravel()]
    return ch_corners.reshape(-1, 2).astype(np.float64), np.asarray(obj, dtype=np.float64)


def estimate_board_pose(image: np.ndarray, K: np.ndarray, board: BoardConfig,
                        dist_coeffs: np.ndarray | None = None) -> BoardPose:
    """Pose of the board in the camera's optical frame from one image (see :func:`detect_board`)."""
    px, obj = detect_board(image, board)
    dist = np.zeros(5) if dist_coeffs is None else np.asarray(dist_coeffs, dtype=float)
    ok, rvec, tvec = cv2.solvePnP(obj, px, K, dist, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        raise ValueError("solvePnP failed on the detected board corners")
    rvec, tvec = cv2.solvePnPRefineLM(obj, px, K, dist, rvec, tvec)
    proj, _ = cv2.projectPoints(obj, rvec, tvec, K, dist)
    rms = float(np.sqrt(((proj.reshape(-1, 2) - px) ** 2).sum(1).mean()))
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(rvec)[0]
    T[:3, 3] = tvec.ravel()
    return BoardPose(T, rms, len(px))


def calibrate_extrinsics(images: dict[str, np.ndarray], intrinsics: dict[str, np.ndarray], board: BoardConfig,
                         board_to_world: np.ndarray | None = None, max_rms_px: float = 1.0
                         ) -> dict[str, tuple[np.ndarray, BoardPose]]:
    """camera name → (camera_to_world (4, 4), BoardPose) from one image per camera of a board at ``board_to_world``
    (default identity: the board defines the world). Raises ValueError naming the camera that fails or whose
    reprojection error exceeds ``max_rms_px``; a camera without intrinsics gives "missing intrinsics for <cam>"."""
    W = np.eye(4) if board_to_world is None else np.asarray(board_to_world, dtype=float)
    out = {}
    for name, image in images.items():
        if name not in intrinsics:
            raise ValueError(f"missing intrinsics for {name}")
        try:
            pose = estimate_board_pose(image, intrinsics[name], board)
        except ValueError as err:
            raise ValueError(f"camera {name}: {err}") from None
        if pose.rms_px > max_rms_px:
            raise ValueError(f"camera {name}: board reprojection error {pose.rms_px:.2f} px > {max_rms_px} px")
        out[name] = (W @ np.linalg.inv(pose.board_to_camera), pose)
    return out
