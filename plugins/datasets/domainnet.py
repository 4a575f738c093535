"""Dataset plugin ``domainnet``: DomainNet, cleaned version (Peng et al., ICCV 2019, "M3SDA"),
345 classes in 6 domains.

Layout and sources in docs/datasets.md; protocol in docs/methods.md: the 30 single-source
tasks ``c2i`` ... ``s2r`` (every ordered pair of clipart, infograph, painting, quickdraw,
real, sketch); the source trains on its official ``train`` split, the method adapts to the
target's ``train`` split and is evaluated on the target's ``test`` split. The split files
are required: DomainBed's whole-folder layout (duplicates removed, random holdouts) is a
different benchmark.

Labels: the official order of the split files (``0 aircraft_carrier`` ... ``344 zigzag``;
tllib's ``DomainNet.CLASSES`` too), which is not alphabetical. ``painting_train.txt`` has no
``t-shirt`` image (docs/datasets.md): that class is absent from the painting source.

Layouts accepted under ``--root``: ``[domainnet|DomainNet|domain_net]/<domain>/<class>/*.jpg``
with the official ``<domain>_{train,test}.txt`` beside the domain folders, in Dassl's
``splits/`` or in tllib's ``image_list/``.
"""

from __future__ import annotations

from udabench import FolderDataset, Layout, hookimpl, pair_tasks


CLASSES = (
    "aircraft_carrier", "airplane", "alarm_clock", "ambulance", "angel", "animal_migration", "ant", "anvil",
    "apple", "arm", "asparagus", "axe", "backpack", "banana", "bandage", "barn", "baseball", "baseball_bat",
    "basket", "basketball", "bat", "bathtub", "beach", "bear", "beard", "bed", "bee", "belt", "bench",
    "bicycle", "binoculars", "bird", "birthday_cake", "blackberry", "blueberry", "book", "boomerang",
    "bottlecap", "bowtie", "bracelet", "brain", "bread", "bridge", "broccoli", "broom", "bucket", "bulldozer",
    "bus", "bush", "butterfly", "cactus", "cake", "calculator", "calendar", "camel", "camera", "camouflage",
    "campfire", "candle", "cannon", "canoe", "car", "carrot", "castle", "cat", "ceiling_fan", "cello",
    "cell_phone", "chair", "chandelier", "church", "circle", "clarinet", "clock", "cloud", "coffee_cup",
    "compass", "computer", "cookie", "cooler", "couch", "cow", "crab", "crayon", "crocodile", "crown",
    "cruise_ship", "cup", "diamond", "dishwasher", "diving_board", "dog", "dolphin", "donut", "door",
    "dragon", "dresser", "drill", "drums", "duck", "dumbbell", "ear", "elbow", "elephant", "envelope",
    "eraser", "eye", "eyeglasses", "face", "fan", "feather", "fence", "finger", "fire_hydrant", "fireplace",
    "firetruck", "fish", "flamingo", "flashlight", "flip_flops", "floor_lamp", "flower", "flying_saucer",
    "foot", "fork", "frog", "frying_pan", "garden", "garden_hose", "giraffe", "goatee", "golf_club", "grapes",
    "grass", "guitar", "hamburger", "hammer", "hand", "harp", "hat", "headphones", "hedgehog", "helicopter",
    "helmet", "hexagon", "hockey_puck", "hockey_stick", "horse", "hospital", "hot_air_balloon", "hot_dog",
    "hot_tub", "hourglass", "house", "house_plant", "hurricane", "ice_cream", "jacket", "jail", "kangaroo",
    "key", "keyboard", "knee", "knife", "ladder", "lantern", "laptop", "leaf", "leg", "light_bulb", "lighter",
    "lighthouse", "lightning", "line", "lion", "lipstick", "lobster", "lollipop", "mailbox", "map", "marker",
    "matches", "megaphone", "mermaid", "microphone", "microwave", "monkey", "moon", "mosquito", "motorbike",
    "mountain", "mouse", "moustache", "mouth", "mug", "mushroom", "nail", "necklace", "nose", "ocean",
    "octagon", "octopus", "onion", "oven", "owl", "paintbrush", "paint_can", "palm_tree", "panda", "pants",
    "paper_clip", "parachute", "parrot", "passport", "peanut", "pear", "peas", "pencil", "penguin", "piano",
    "pickup_truck", "picture_frame", "pig", "pillow", "pineapple", "pizza", "pliers", "police_car", "pond",
    "pool", "popsicle", "postcard", "potato", "power_outlet", "purse", "rabbit", "raccoon", "radio", "rain",
    "rainbow", "rake", "remote_control", "rhinoceros", "rifle", "river", "roller_coaster", "rollerskates",
    "sailboat", "sandwich", "saw", "saxophone", "school_bus", "scissors", "scorpion", "screwdriver",
    "sea_turtle", "see_saw", "shark", "sheep", "shoe", "shorts", "shovel", "sink", "skateboard", "skull",
    "skyscraper", "sleeping_bag", "smiley_face", "snail", "snake", "snorkel", "snowflake", "snowman",
    "soccer_ball", "sock", "speedboat", "spider", "spoon", "spreadsheet", "square", "squiggle", "squirrel",
    "stairs", "star", "steak", "stereo", "stethoscope", "stitches", "stop_sign", "stove", "strawberry",
    "streetlight", "string_bean", "submarine", "suitcase", "sun", "swan", "sweater", "swing_set", "sword",
    "syringe", "table", "teapot", "teddy-bear", "telephone", "television", "tennis_racquet", "tent",
    "The_Eiffel_Tower", "The_Great_Wall_of_China", "The_Mona_Lisa", "tiger", "toaster", "toe", "toilet",
    "tooth", "toothbrush", "toothpaste", "tornado", "tractor", "traffic_light", "train", "tree", "triangle",
    "trombone", "truck", "trumpet", "t-shirt", "umbrella", "underwear", "van", "vase", "violin",
    "washing_machine", "watermelon", "waterslide", "whale", "wheel", "windmill", "wine_bottle", "wine_glass",
    "wristwatch", "yoga", "zebra", "zigzag",
)
#: Underscores become spaces; these read better without the article-clashing "The".
PROMPT_OVERRIDES = {"The_Eiffel_Tower": "Eiffel Tower", "The_Great_Wall_of_China": "Great Wall of China",
                    "The_Mona_Lisa": "Mona Lisa", "teddy-bear": "teddy bear"}
SHORT = {"clipart": "c", "infograph": "i", "painting": "p", "quickdraw": "q", "real": "r", "sketch": "s"}
SPLITS = ("train", "test")
COUNTS = {"clipart": (33525, 14604), "infograph": (36023, 15582), "painting": (50416, 21850),
          "quickdraw": (120750, 51750), "real": (120906, 52041), "sketch": (48212, 20916)}
CSR = "http://csr.bu.edu/ftp/visda/2019/multi-source/"
#: Clipart and painting come from groundtruth/, the cleaned versions (docs/datasets.md).
IMAGE_URLS = {d: CSR + ("groundtruth/" if d in ("clipart", "painting") else "") + f"{d}.zip" for d in SHORT}
TLLIB = "https://cloud.tsinghua.edu.cn/f/{}/?dl=1"
TLLIB_IDS = {"image_list": "bf0fe327e4b046eb89ba", "clipart": "f0515164a4864220b98b",
             "infograph": "98b19d5fc9884109a9cb", "painting": "11285ce9fbd34bb7b28c",
             "quickdraw": "6faa9efb498b494abf66", "real": "17a101842c564959b525", "sketch": "b305add26e9d47349495"}


def image_archives(domains):
    """The official image archive of each domain, unpacked to ``domainnet/<domain>/``."""
    return [{"name": f"{d}.zip", "into": f"domainnet/{d}", "urls": [IMAGE_URLS[d]]} for d in domains]


class DomainNet(FolderDataset):
    name = "domainnet"
    classes = CLASSES
    prompt_names = tuple(PROMPT_OVERRIDES.get(c, c.replace("_", " ")) for c in CLASSES)
    domains = tuple(SHORT)
    domain_prompt_names = {d: d for d in SHORT}
    tasks = pair_tasks(SHORT)
    # DAPL's single zero-shot prompt (docs/methods.md, zeroshot).
    templates = ("a photo of a {}.",)
    splits = SPLITS
    train_split, adapt_split, eval_split = "train", "train", "test"
    layout = Layout(
        dataset_dirs=("domainnet", "DomainNet", "domain_net"),
        domain_dirs={d: (d,) for d in SHORT},
        split_lists={(d, s): (f"{d}_{s}.txt", f"splits/{d}_{s}.txt", f"image_list/{d}_{s}.txt")
                     for d in SHORT for s in SPLITS},
        lists_required=True,
    )
    expected_counts = {(d, s): n for d, pair in COUNTS.items() for s, n in zip(SPLITS, pair)}
    downloads = {
        "official": [
            *({"name": f"{d}_{s}.txt", "into": "domainnet", "urls": [f"{CSR}domainnet/txt/{d}_{s}.txt"]}
              for d in SHORT for s in SPLITS),
            *image_archives(SHORT),
        ],
        "tllib": [
            {"name": "image_list.zip", "into": "domainnet/image_list", "urls": [TLLIB.format(TLLIB_IDS["image_list"])]},
            *({"name": f"{d}.tgz", "into": f"domainnet/{d}", "urls": [TLLIB.format(TLLIB_IDS[d])]} for d in SHORT),
        ],
    }
    source_info = "the DomainNet page http://ai.bu.edu/M3SDA/ (images and split files under " + CSR + ")"


@hookimpl
def register_datasets(register):
    register(DomainNet)
