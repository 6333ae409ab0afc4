# iKUN scores the tracks of a tracker it never saw ("speak to trackers without retraining"):
# the released NeuralSORT track files of the official iKUN, replayed by TracksFromFile, referred
# by the official iKUN checkpoint, evaluated the way the official test does.
#
# Recipe:
#   1. Refer-KITTI, prepared once:  python tools/data/prepare_refer_kitti.py data/refer-kitti
#   2. the official cascade checkpoint, converted:
#        python tools/model_converters/ikun_official_to_mm.py SRC DST --kum cascade
#   3. the official NeuralSORT track files: <track_dir>/<video>/car/predict.txt and
#      <track_dir>/<video>/pedestrian/predict.txt for 0005, 0011, 0013
#   4. python tools/test.py configs/rmot/ikun_cascade_tracks-from-file_refer_kitti.py DST \
#        --cfg-options data_root=data/refer-kitti model.tracker.track_dir=TRACK_DIR
#      (data_root also moves a track_dir that lies under it; a top-level `track_dir=...` alone
#      is not propagated into model.tracker once the config is parsed)
#
# What differs from ikun_cascade_neuralsort_refer_kitti.py:
#   - the tracker: TracksFromFile instead of NeuralSORT (no detector runs, no NKF needed);
#     the frame column of those files is the 0-based image index (frame_base=0), and the
#     pedestrian ids are offset by the largest car id, as the official code reads them;
#   - interpolation=None: the files are final tracks;
#   - the metric's frame convention 'ikun' (the official test's pairing: MOT frame k holds GT and
#     predictions of image k, images 0 and N-1 carry no prediction). Use 'corrected' to compare
#     with the rest of ikun_mm's tables.
# Calibration a=8, b=-0.1 (the paper's) is inherited.
_base_ = ['./ikun_cascade_neuralsort_refer_kitti.py']

track_dir = 'data/refer-kitti/tracks/NeuralSORT'

model = dict(
    tracker=dict(_delete_=True, type='TracksFromFile', track_dir=track_dir, layout='per_class',
                 frame_base=0, classes=('car', 'pedestrian')),
    interpolation=None)

test_evaluator = dict(convention='ikun')
