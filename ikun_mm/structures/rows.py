"""Named columns of the float row arrays that pass between the readers, trackers, the referring
model and the metrics.

Every layout is a :class:`RowLayout`: a name and a tuple of column names. A column's index is an
attribute (``TRACK_ROW.frame == 0``, ``TRACK_ROW.score == 6``), so code picks columns by name
instead of by number, and one layout is turned into another with :meth:`RowLayout.to`::

    from ikun_mm.structures import GT_ROW, TRACK_BOX_ROW, TRACK_ROW
    frames = rows[:, TRACK_ROW.frame].astype(int)
    boxes = TRACK_ROW.boxes(rows)                     # (N, 4) x1, y1, x2, y2
    track = GT_ROW.to(TRACK_BOX_ROW, gt_rows)          # (L, 5) frame, x1, y1, x2, y2

Conventions: arrays are float64 of shape (N, width); frames are 0-based image indices except in
the two MOTChallenge layouts (:data:`MOT_GT_ROW`, :data:`MOT_PRED_ROW`), whose frame is 1-based;
boxes are ``x1, y1, x2, y2`` in pixels except in the MOTChallenge layouts (``x, y, w, h``).

=======================  ===============================================  ======================
layout                   columns                                          produced by
=======================  ===============================================  ======================
:data:`GT_ROW`           frame, id, cls, x1, y1, x2, y2                   ``VideoAnnotation.
                                                                          boxes``
:data:`MOT_FILE_ROW`     frame, id, x1, y1, x2, y2, score, cls, line      ``load_mot_rows``
:data:`DET_ROW`          frame, x1, y1, x2, y2, score, cls                ``load_detections``
:data:`FRAME_DET_ROW`    x1, y1, x2, y2, score, label                     ``DetectionsFromFile.
                                                                          detections``
:data:`TRACK_ROW`        frame, id, x1, y1, x2, y2, score, label          ``track_results_
                                                                          array``, ``track_
                                                                          video``
:data:`TRACK_BOX_ROW`    frame, x1, y1, x2, y2                            ``tracks_from_rows``,
                                                                          ``VideoAnnotation.
                                                                          track_boxes``
:data:`REFERRED_ROW`     frame, id, x1, y1, x2, y2, score                 ``referred_rows``
:data:`MOT_GT_ROW`       frame (1-based), id, x, y, w, h                  ``expression_gt_rows``
:data:`MOT_PRED_ROW`     frame (1-based), id, x, y, w, h, score           ``prediction_mot_
                                                                          rows``
=======================  ===============================================  ======================
"""
from dataclasses import dataclass
from typing import List, Tuple, Union

import numpy as np

#: Names of the four box columns, in order, of the two box conventions.
XYXY_COLUMNS = ('x1', 'y1', 'x2', 'y2')
XYWH_COLUMNS = ('x', 'y', 'w', 'h')


@dataclass(frozen=True)
class RowLayout:
    """The columns of one row layout: ``layout.<column>`` is the column's index.

    Args:
        name: what the rows are, for messages (e.g. ``'tracker rows'``).
        columns: the column names, in order; the four box columns (``x1, y1, x2, y2`` or
            ``x, y, w, h``) are adjacent.
    """
    name: str
    columns: Tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f'RowLayout {self.name!r}: repeated column in {self.columns}')
        clash = [c for c in self.columns if c in type(self).__dict__ or c in ('name', 'columns')]
        if clash:
            raise ValueError(f'RowLayout {self.name!r}: column names {clash} clash with '
                             'attributes of RowLayout')

    def __getattr__(self, column: str) -> int:
        # called only for names that are not attributes: the column names
        columns = self.__dict__.get('columns', ())
        if column in columns:
            return columns.index(column)
        raise AttributeError(f'{self.__dict__.get("name", "RowLayout")!r} has no column '
                             f'{column!r}; its columns are {columns}')

    @property
    def width(self) -> int:
        """The number of columns."""
        return len(self.columns)

    def index(self, *columns: str) -> List[int]:
        """Indices of ``columns`` (names), in the order given."""
        return [getattr(self, c) for c in columns]

    @property
    def box(self) -> slice:
        """The slice of the four box columns (``x1..y2``, or ``x..h`` in MOTChallenge rows)."""
        for names in (XYXY_COLUMNS, XYWH_COLUMNS):
            if names[0] in self.columns:
                start = self.columns.index(names[0])
                if self.columns[start:start + 4] != names:
                    raise AttributeError(f'{self.name!r}: box columns {names} are not adjacent')
                return slice(start, start + 4)
        raise AttributeError(f'{self.name!r} has no box columns; its columns are {self.columns}')

    def boxes(self, rows: np.ndarray) -> np.ndarray:
        """The box columns of ``rows`` (N, width) -> (N, 4) (a view)."""
        return rows[..., self.box]

    def take(self, rows: np.ndarray, *columns: str) -> np.ndarray:
        """``rows[:, [columns...]]``: the named columns of ``rows`` (N, width) -> (N, k)."""
        return rows[..., self.index(*columns)]

    def empty(self) -> np.ndarray:
        """A float64 array of shape (0, width)."""
        return np.zeros((0, self.width))

    def as_rows(self, rows, where: str = '') -> np.ndarray:
        """``rows`` as a float64 array of shape (N, width); an empty input gives (0, width).

        Raises:
            ValueError: naming ``where`` (the function or file) and the layout, when the last
                axis is not ``width`` long.
        """
        rows = np.asarray(rows, dtype=np.float64)
        if rows.size == 0:
            return rows.reshape(0, self.width)
        if rows.ndim != 2 or rows.shape[1] != self.width:
            raise ValueError(f'{where + ": " if where else ""}{self.name} must have shape '
                             f'(N, {self.width}) ({", ".join(self.columns)}), got {rows.shape}')
        return rows

    def to(self, other: 'RowLayout', rows: np.ndarray, **fill: Union[float, np.ndarray]
           ) -> np.ndarray:
        """Rows of this layout (N, width) -> rows of ``other`` (N, other.width).

        Columns of ``other`` are taken by name from ``rows``; those ``rows`` lack are taken
        from ``fill`` (a scalar or an (N,) array per column name).

        Raises:
            KeyError: a column of ``other`` is neither in this layout nor in ``fill``.
        """
        missing = [c for c in other.columns if c not in self.columns and c not in fill]
        if missing:
            raise KeyError(f'{self.name} -> {other.name}: columns {missing} are not in '
                           f'{self.columns}; give them as keyword arguments')
        if not fill:
            return rows[..., self.index(*other.columns)]
        out = np.empty(rows.shape[:-1] + (other.width, ), dtype=np.float64)
        for j, c in enumerate(other.columns):
            out[..., j] = fill[c] if c in fill else rows[..., getattr(self, c)]
        return out


#: Ground-truth boxes of a video: ``VideoAnnotation.boxes`` and ``parse_label_file``
#: (``ikun_mm/datasets/refer_kitti_io.py``), (N, 7), sorted by (frame, id).
GT_ROW = RowLayout('GT boxes', ('frame', 'id', 'cls') + XYXY_COLUMNS)

#: A MOTChallenge file as read by ``load_mot_rows``, (N, 9): the 0-based image index, the file's
#: id, the box, the score (1 when absent), the class (-1 when absent) and the 1-based line of the
#: file the row was read from (for error messages).
MOT_FILE_ROW = RowLayout('MOT file rows',
                         ('frame', 'id') + XYXY_COLUMNS + ('score', 'cls', 'line'))

#: Detections of a video: ``load_detections``, (N, 7); ``cls`` is -1 when the file has none.
DET_ROW = RowLayout('detections', ('frame', ) + XYXY_COLUMNS + ('score', 'cls'))

#: Detections of one frame: ``DetectionsFromFile.detections(path)[frame]``, (K, 6).
FRAME_DET_ROW = RowLayout('per-frame detections', XYXY_COLUMNS + ('score', 'label'))

#: Tracker output: ``track_results_array`` (K, 8) for one frame, ``track_video`` and
#: ``interpolate_tracks`` (N, 8) for a video, sorted by (frame, id).
TRACK_ROW = RowLayout('tracker rows', ('frame', 'id') + XYXY_COLUMNS + ('score', 'label'))

#: One track: ``tracks_from_rows`` and ``VideoAnnotation.track_boxes``, (L, 5) sorted by frame;
#: the track format ``score_tracks`` takes.
TRACK_BOX_ROW = RowLayout('track', ('frame', ) + XYXY_COLUMNS)

#: Boxes referred by one expression: ``referred_rows``, (M, 7) sorted by (frame, id).
REFERRED_ROW = RowLayout('referred rows', ('frame', 'id') + XYXY_COLUMNS + ('score', ))

#: MOTChallenge ground truth of one expression: ``expression_gt_rows``, (G, 6); frame 1-based.
MOT_GT_ROW = RowLayout('MOT GT rows', ('frame', 'id') + XYWH_COLUMNS)

#: MOTChallenge predictions: ``prediction_mot_rows`` of referred rows, (M, 7); frame 1-based.
MOT_PRED_ROW = RowLayout('MOT prediction rows', ('frame', 'id') + XYWH_COLUMNS + ('score', ))

#: Every layout, by the name of its constant.
ROW_LAYOUTS = dict(GT_ROW=GT_ROW, MOT_FILE_ROW=MOT_FILE_ROW, DET_ROW=DET_ROW,
                   FRAME_DET_ROW=FRAME_DET_ROW, TRACK_ROW=TRACK_ROW, TRACK_BOX_ROW=TRACK_BOX_ROW,
                   REFERRED_ROW=REFERRED_ROW, MOT_GT_ROW=MOT_GT_ROW, MOT_PRED_ROW=MOT_PRED_ROW)
