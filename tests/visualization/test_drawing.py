"""Pictures users look at: the frame picks and the tiled snapshot of the demo."""
import numpy as np
import pytest

from ikun_mm.visualization import contact_sheet, evenly_spaced


@pytest.mark.parametrize('total,count,expected', [
    (24, 4, [0, 8, 15, 23]),
    (5, 5, [0, 1, 2, 3, 4]),
    (3, 10, [0, 1, 2]),
    (9, 1, [4]),
    (0, 4, []),
])
def test_evenly_spaced_includes_both_ends(total, count, expected):
    assert evenly_spaced(total, count) == expected


def test_contact_sheet_places_tiles_row_by_row_with_black_gaps():
    tiles = [np.full((10, 20, 3), 50 * (k + 1), np.uint8) for k in range(3)]
    sheet = contact_sheet(tiles, cols=2, gap=4)
    assert sheet.shape == (2 * 10 + 4, 2 * 20 + 4, 3)
    assert (sheet[:10, :20] == 50).all()          # tile 0: top left
    assert (sheet[:10, 24:44] == 100).all()       # tile 1: top right
    assert (sheet[14:24, :20] == 150).all()       # tile 2: bottom left
    assert (sheet[14:24, 24:44] == 0).all()       # padding of the last row
    assert (sheet[:, 20:24] == 0).all() and (sheet[10:14] == 0).all()  # gaps


def test_contact_sheet_labels_draw_on_tiles_not_the_inputs():
    tiles = [np.full((60, 80, 3), 128, np.uint8) for _ in range(2)]
    sheet = contact_sheet(tiles, cols=2, labels=['frame 0', 'frame 9'])
    assert (tiles[0] == 128).all()                # inputs untouched
    assert (sheet[50:60, :40] != 128).any()       # label box in the bottom-left corner
    assert (sheet[:20, :80] == 128).all() and (sheet[:20, 84:] == 128).all()  # nothing else


def test_contact_sheet_rejects_mixed_shapes_and_empty_input():
    with pytest.raises(ValueError, match='same shape'):
        contact_sheet([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)])
    with pytest.raises(ValueError, match='at least one'):
        contact_sheet([])


def test_render_referred_upscale_scales_frame_and_boxes(tmp_path):
    import cv2

    from ikun_mm.visualization import render_referred
    path = str(tmp_path / '000000.png')
    cv2.imwrite(path, np.full((40, 60, 3), 255, np.uint8))
    referred = {'cars': np.array([[0, 3, 10, 12, 30, 32, 0.5]])}  # frame, id, x1, y1, x2, y2, s
    (plain,) = render_referred([path], referred, ['cars'])
    (big,) = render_referred([path], referred, ['cars'], upscale=2)
    assert plain.shape == (40, 60, 3) and big.shape == (80, 120, 3)
    # the box's bottom edge: row 32 at scale 1, row 64 at scale 2 (same colour)
    assert (plain[32, 15] != 255).any() and (big[64, 30] != 255).any()
    assert (big[64, 30] == plain[32, 15]).all()
    with pytest.raises(ValueError, match='upscale'):
        next(render_referred([path], referred, ['cars'], upscale=0))


def test_write_snapshot_orders_frames_and_leaves_no_partial_file(tmp_path):
    import cv2

    from ikun_mm.visualization import write_snapshot
    frames = {9: np.full((40, 90, 3), 200, np.uint8), 0: np.full((40, 90, 3), 100, np.uint8)}
    path = str(tmp_path / 'pics' / 'sheet.png')
    assert write_snapshot(frames, path) == 2
    sheet = cv2.imread(path)
    assert sheet.shape == (40, 184, 3)
    assert sheet[0, 0, 0] == 100 and sheet[0, 183, 0] == 200  # frame 0 first, then frame 9
    assert sorted(p.name for p in (tmp_path / 'pics').iterdir()) == ['sheet.png']
    with pytest.raises(ValueError, match='.jpg or .png'):
        write_snapshot(frames, str(tmp_path / 'sheet.gif'))
