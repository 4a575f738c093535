"""Dataset plugin ``ucf101``: UCF101 (Soomro et al., arXiv 1212.0402), 101 human actions, as CoOp's
few-shot suite reads it: the middle frame of each video as an image, one domain, CoOp's fixed
train / val / test split.

Protocol (docs/methods.md, the few-shot suite): one task, ``ucf101``; K shots per class drawn by
seed from the train split, hyperparameters chosen on the val split, scored on the test split
(7,639 / 1,898 / 3,783 images, CoOp's paper, dataset table: CoOp took UCF101's first official
train / test list, ``trainlist01`` / ``testlist01``, and split the training videos 80 / 20 into
train and val).

Labels: UCF101's ``classInd.txt`` order (1-based there: ``1 ApplyEyeMakeup`` ... ``101 YoYo``),
which CoOp's reader (``datasets/ucf101.py``) shifts to 0-based. CoOp names an action by cutting
its CamelCase name before each capital and joining the words with ``_``: label 0 is
``Apply_Eye_Makeup``, 36 ``Handstand_Pushups``, 100 ``Yo_Yo``. The split file names each label
that way; a file that names them otherwise is refused.

Prompt: CoOp's zero-shot template for UCF101 (``trainers/zsclip.py``), "a photo of a person doing
{}.", with underscores read as spaces ("Apply Eye Makeup").

Layout under ``--root`` (CoOp's DATASETS.md): ``ucf101/UCF-101-midframes/<Action_Name>/<video>.jpg``
(CoOp's zip of middle frames; its folders are the underscored names and each frame keeps its
video's name, ``Apply_Eye_Makeup/v_ApplyEyeMakeup_g08_c01.jpg``; the videos of
``HandstandPushups`` are spelled ``v_HandStandPushups_*``) and ``ucf101/split_zhou_UCF101.json``,
whose paths are relative to ``UCF-101-midframes/``.

Sources: the action names of UCF101's ``ucfTrainTestlist/classInd.txt``; the underscored names
checked against a CoOp-derived UCF101 class list in a public repository.
"""

from __future__ import annotations

import re

from udabench import SplitFileDataset, hookimpl

#: UCF101's action names (``classInd.txt``), in label order.
ACTIONS = (
    "ApplyEyeMakeup", "ApplyLipstick", "Archery", "BabyCrawling", "BalanceBeam", "BandMarching",
    "BaseballPitch", "Basketball", "BasketballDunk", "BenchPress", "Biking", "Billiards", "BlowDryHair",
    "BlowingCandles", "BodyWeightSquats", "Bowling", "BoxingPunchingBag", "BoxingSpeedBag", "BreastStroke",
    "BrushingTeeth", "CleanAndJerk", "CliffDiving", "CricketBowling", "CricketShot", "CuttingInKitchen",
    "Diving", "Drumming", "Fencing", "FieldHockeyPenalty", "FloorGymnastics", "FrisbeeCatch", "FrontCrawl",
    "GolfSwing", "Haircut", "Hammering", "HammerThrow", "HandstandPushups", "HandstandWalking",
    "HeadMassage", "HighJump", "HorseRace", "HorseRiding", "HulaHoop", "IceDancing", "JavelinThrow",
    "JugglingBalls", "JumpingJack", "JumpRope", "Kayaking", "Knitting", "LongJump", "Lunges",
    "MilitaryParade", "Mixing", "MoppingFloor", "Nunchucks", "ParallelBars", "PizzaTossing",
    "PlayingCello", "PlayingDaf", "PlayingDhol", "PlayingFlute", "PlayingGuitar", "PlayingPiano",
    "PlayingSitar", "PlayingTabla", "PlayingViolin", "PoleVault", "PommelHorse", "PullUps", "Punch",
    "PushUps", "Rafting", "RockClimbingIndoor", "RopeClimbing", "Rowing", "SalsaSpin", "ShavingBeard",
    "Shotput", "SkateBoarding", "Skiing", "Skijet", "SkyDiving", "SoccerJuggling", "SoccerPenalty",
    "StillRings", "SumoWrestling", "Surfing", "Swing", "TableTennisShot", "TaiChi", "TennisSwing",
    "ThrowDiscus", "TrampolineJumping", "Typing", "UnevenBars", "VolleyballSpiking", "WalkingWithDog",
    "WallPushups", "WritingOnBoard", "YoYo",
)


def coop_name(action: str) -> str:
    """CoOp's class name (and frame folder) for an action: its words, cut before each capital,
    joined by ``_`` (``ApplyEyeMakeup`` -> ``Apply_Eye_Makeup``)."""
    return "_".join(re.findall("[A-Z][^A-Z]*", action))


CLASSES = tuple(coop_name(a) for a in ACTIONS)
SPLIT_FILE_ID = "1I0S0q91hJfsV9Gf4xDIjgDq4AqBNJb1y"
FRAMES_ZIP_ID = "10Jqome3vtUA2keJkNanAiFpgbyC9Hc2O"
GDRIVE = "https://drive.google.com/uc?export=download&id={}"


class UCF101(SplitFileDataset):
    name = "ucf101"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a photo of a person doing {}.",)
    dataset_dirs = ("ucf101",)
    image_dir = "UCF-101-midframes"
    split_file = "split_zhou_UCF101.json"
    expected_counts = {"train": 7639, "val": 1898, "test": 3783}
    downloads = {
        # CoOp's zip of middle frames (top folder UCF-101-midframes/) and its split file, both on
        # Google Drive, which may answer a large file with a confirmation page (docs/datasets.md).
        "coop": [
            {"name": "UCF-101-midframes.zip", "into": "ucf101", "urls": [GDRIVE.format(FRAMES_ZIP_ID)]},
            {"name": "split_zhou_UCF101.json", "into": "ucf101", "urls": [GDRIVE.format(SPLIT_FILE_ID)]},
        ],
    }
    source_info = ("CoOp's middle frames UCF-101-midframes.zip "
                   f"(https://drive.google.com/file/d/{FRAMES_ZIP_ID}, unzip into <root>/ucf101) and its "
                   f"split file split_zhou_UCF101.json (https://drive.google.com/file/d/{SPLIT_FILE_ID}), "
                   "see CoOp's DATASETS.md")


@hookimpl
def register_datasets(register):
    register(UCF101)
