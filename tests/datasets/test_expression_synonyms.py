"""Synonym mapping of expressions: the official iKUN conversion on Refer-KITTI names, and the
datasets that merge synonymous expressions (training) or give the model canonical texts
(testing)."""
import json
import os

import cv2
import numpy as np
import pytest

from ikun_mm.datasets import (Expression, canonical_sentence, merge_synonymous_expressions,
                              resolve_synonyms)

# Refer-KITTI file names and what the official iKUN conversion (dyhBUPT/iKUN,
# utils.expression_conversion: dashes -> spaces, 'light color' -> 'light-color', then
# cars/vehicles -> car, people/persons -> pedestrian, males -> men, females -> women,
# light-colors -> light-color word by word) makes of them, converted by hand.
OFFICIAL = [
    ('cars-in-light-color', 'car in light-color'),
    ('left-vehicles-which-are-in-light-colors', 'left car which are in light-color'),
    ('females-back-to-the-camera', 'women back to the camera'),
    ('light-color-vehicles-with-the-counter-direction-of-ours',
     'light-color car with the counter direction of ours'),
    ('walking-persons-in-the-right', 'walking pedestrian in the right'),
    ('left-people-who-are-walking', 'left pedestrian who are walking'),
    ('males-in-the-left', 'men in the left'),
    ('standing-females', 'standing women'),
    ('men-back-to-the-camera', 'men back to the camera'),
    ('women-carrying-a-bag', 'women carrying a bag'),
    ('counter-direction-vehicles-in-the-right', 'counter direction car in the right'),
    ('pedestrian', 'pedestrian'),
    ('vehicles', 'car'),
]


@pytest.mark.parametrize('name,expected', OFFICIAL, ids=[n for n, _ in OFFICIAL])
def test_canonical_sentence_matches_the_official_conversion(name, expected):
    assert canonical_sentence(name, 'refer_kitti') == expected
    # the JSON's sentence (spaces) and the file name (dashes) give the same text
    assert canonical_sentence(name.replace('-', ' '), 'refer_kitti') == expected
    # idempotent: the canonical text is its own canonical text
    assert canonical_sentence(expected, 'refer_kitti') == expected


def test_canonical_sentence_options():
    assert canonical_sentence('cars-in-red', None) == 'cars-in-red'  # off: unchanged
    assert canonical_sentence('  cars   in red ', 'refer_kitti') == 'car in red'
    # whole words only: 'scars' and 'light colored' are other words
    assert canonical_sentence('scars light colored', 'refer_kitti') == 'scars light colored'
    # a dict of its own; a dashed replacement is one word and stays one
    table = {'autos': 'car', 'dark tone': 'dark-tone'}
    assert canonical_sentence('autos in dark tone', table) == 'car in dark-tone'
    assert canonical_sentence('car-in-dark-tone', table) == 'car in dark-tone'
    assert resolve_synonyms(None) is None
    with pytest.raises(KeyError, match='unknown synonym table'):
        canonical_sentence('cars', 'refer_dance')
    with pytest.raises(ValueError, match='mapped again'):
        resolve_synonyms({'cars': 'car', 'car': 'auto'})


def test_merge_unites_the_positives_of_synonymous_files():
    exprs = [Expression('0001', 'cars in red', 'a.json', {0: [1], 1: [1]}),
             Expression('0001', 'vehicles in red', 'b.json', {1: [2], 2: [1]}),
             Expression('0001', 'people', 'c.json', {0: [3]})]
    merged = merge_synonymous_expressions(exprs, 'refer_kitti')
    assert [e.sentence for e in merged] == ['car in red', 'pedestrian']
    assert merged[0].label == {0: [1], 1: [1, 2], 2: [1]}
    assert merged[0].positives() == {(0, 1), (1, 1), (1, 2), (2, 1)}
    assert merged[1].positives() == {(0, 3)}
    # the inputs are not modified; without synonyms nothing is merged
    assert exprs[0].label == {0: [1], 1: [1]}
    assert merge_synonymous_expressions(exprs, None) == exprs
    with pytest.raises(ValueError, match='one video'):
        merge_synonymous_expressions(
            [exprs[0], Expression('0002', 'cars', 'd.json', {0: [1]})], 'refer_kitti')


def write_tiny_tree(root: str) -> None:
    """One video '0001' of 3 frames (32x16) with objects 1, 2 (cars) and 3 (a pedestrian) in
    every frame, and three expression files: 'cars-in-red' (1 at frames 0, 1),
    'vehicles-in-red' (2 at frame 1, 1 at frame 2) and 'people' (3 at frame 0)."""
    img_dir = os.path.join(root, 'KITTI', 'training', 'image_02', '0001')
    lab_dir = os.path.join(root, 'KITTI', 'labels_with_ids', 'image_02', '0001')
    exp_dir = os.path.join(root, 'expression', '0001')
    for d in (img_dir, lab_dir, exp_dir):
        os.makedirs(d)
    for f in range(3):
        cv2.imwrite(os.path.join(img_dir, f'{f:06d}.png'), np.zeros((16, 32, 3), np.uint8))
        with open(os.path.join(lab_dir, f'{f:06d}.txt'), 'w') as fh:
            fh.write('0 1 0.0 0.0 0.25 0.5\n0 2 0.3 0.0 0.25 0.5\n1 3 0.6 0.2 0.1 0.5\n')
    files = {'cars-in-red': {'0': [1], '1': [1]}, 'vehicles-in-red': {'1': [2], '2': [1]},
             'people': {'0': [3]}}
    for name, label in files.items():
        with open(os.path.join(exp_dir, name + '.json'), 'w') as fh:
            json.dump(dict(label=label, ignore=[], video_name='0001',
                           sentence=name.replace('-', ' ')), fh)
    with open(os.path.join(root, 'split.json'), 'w') as fh:
        json.dump(dict(train=['0001'], test=['0001']), fh)


def test_window_dataset_merges_synonyms(tmp_path):
    from ikun_mm.registry import DATASETS
    write_tiny_tree(str(tmp_path))
    cfg = dict(type='ReferKittiWindowDataset', data_root=str(tmp_path), split='train')
    merged = DATASETS.build(dict(cfg, synonyms='refer_kitti'))
    assert merged.sentences('0001') == ['car in red', 'pedestrian']
    # object 2 is a 'car in red' at frame 1 (from vehicles-in-red), object 1 at frames 0-2
    assert merged.holds('0001', 2, 1).tolist() == [True, False]
    assert merged.holds('0001', 2, 0).tolist() == [False, False]
    assert [merged.holds('0001', 1, f)[0] for f in range(3)] == [True, True, True]
    assert merged.holds('0001', 3, 0).tolist() == [False, True]
    plain = DATASETS.build(cfg)
    assert plain.sentences('0001') == ['cars in red', 'people', 'vehicles in red']
    assert plain.holds('0001', 1, 2).tolist() == [False, False, True]
    with pytest.raises(KeyError, match='unknown synonym table'):
        DATASETS.build(dict(cfg, synonyms='nope'))


def test_video_dataset_keeps_expressions_and_gives_canonical_texts(tmp_path):
    from ikun_mm.datasets import ReferKittiDataset
    from ikun_mm.datasets.transforms.referring_formatting import PackReferringVideo
    write_tiny_tree(str(tmp_path))
    item = ReferKittiDataset(data_root=str(tmp_path), split='test', synonyms='refer_kitti')[0]
    sentences = [e.sentence for e in item['expressions']]
    assert sentences == ['cars in red', 'people', 'vehicles in red']  # results keyed by these
    assert item['texts'] == ['car in red', 'pedestrian', 'car in red']  # the model scores these
    meta = PackReferringVideo()(item)['data_samples'].metainfo
    assert meta['sentences'] == sentences and meta['texts'] == item['texts']
    plain = ReferKittiDataset(data_root=str(tmp_path), split='test')[0]
    assert plain['texts'] == sentences
    meta = PackReferringVideo()({k: v for k, v in plain.items() if k != 'texts'})
    assert meta['data_samples'].metainfo['texts'] == sentences
