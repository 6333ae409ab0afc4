# Referring MOT on the generated mini Refer-KITTI with the tracks of any tracker replayed from
# MOTChallenge files (one `<video>.txt` per video in `track_dir`, 1-based frames), e.g. written
# by tools/track_detections.py. The only change from the calibrated mini RMOT config is the
# tracker line:
#
#   python tools/test.py configs/rmot/ikun_cascade_tracks-from-file_mini_refer_kitti.py \
#       CHECKPOINT --cfg-options model.tracker.track_dir=work_dirs/tracks
_base_ = ['./ikun_cascade_neuralsort_mini_refer_kitti.py']

track_dir = 'data/mini_refer_kitti/tracks'

model = dict(tracker=dict(_delete_=True, type='TracksFromFile', track_dir=track_dir))
