"""Dataset plugins ``officehome`` and ``officehome-tllib``: Office-Home (Venkateswara et al., CVPR 2017),
65 classes in 4 domains (Art, Clipart, Product, Real World).

Layout and sources in docs/datasets.md; protocol in docs/methods.md: the 12 tasks Ar2Cl
... Rw2Pr, transductive (every split is the whole domain, ``all``).

Two label orders circulate, and checkpoints or pseudo-label files are not portable
between them (docs/datasets.md):

* ``officehome``: the ASCII-sorted folder order of ImageFolder, Dassl and DomainBed
  (``0 Alarm_Clock`` ... ``58 TV, 59 Table`` ... ``64 Webcam``);
* ``officehome-tllib``: the tllib / CDAN order (``0 Drill, 1 Exit_Sign`` ...), also that of
  the CDTrans lists and of ReCLIP.

They are two registered names, not a constructor keyword, because the runner builds a
dataset from ``--root`` alone (a keyword could not be chosen from the command line), and
because a name keeps the MLflow runs of the two orders apart. Either reads every layout,
including tllib's ``image_list/*.txt`` (written in tllib order): an image's class is its
folder.

Layouts accepted under ``--root``: ``[officehome|office_home|OfficeHome|
OfficeHomeDataset_10072016]/<domain>/<Class>/*.jpg`` with the domain folder spelled as in
tllib (``Real_World``), the official archive and DomainBed (``Real World``), Dassl
(``real_world``, lower case), pytorch-adapt (``real``) or ``RealWorld``.

Prompt names: lower case with spaces ("alarm clock", as DAPL's prompts), except ``TV``, and
``Postit_Notes`` -> "post-it notes", ``Flipflops`` -> "flip flops" (DAPL's plain lower-casing
gives "postit notes", "flipflops"). Domain prompt words: Dassl's domain names, as DAPL's prompts
read them ("real_world", underscore kept).
"""

from __future__ import annotations

from udabench import WHOLE_DOMAIN, FolderDataset, Layout, hookimpl, pair_tasks, prompt_name


SORTED_CLASSES = (
    "Alarm_Clock", "Backpack", "Batteries", "Bed", "Bike", "Bottle", "Bucket", "Calculator", "Calendar",
    "Candles", "Chair", "Clipboards", "Computer", "Couch", "Curtains", "Desk_Lamp", "Drill", "Eraser",
    "Exit_Sign", "Fan", "File_Cabinet", "Flipflops", "Flowers", "Folder", "Fork", "Glasses", "Hammer",
    "Helmet", "Kettle", "Keyboard", "Knives", "Lamp_Shade", "Laptop", "Marker", "Monitor", "Mop", "Mouse",
    "Mug", "Notebook", "Oven", "Pan", "Paper_Clip", "Pen", "Pencil", "Postit_Notes", "Printer", "Push_Pin",
    "Radio", "Refrigerator", "Ruler", "Scissors", "Screwdriver", "Shelf", "Sink", "Sneakers", "Soda",
    "Speaker", "Spoon", "TV", "Table", "Telephone", "ToothBrush", "Toys", "Trash_Can", "Webcam",
)
TLLIB_CLASSES = (
    "Drill", "Exit_Sign", "Bottle", "Glasses", "Computer", "File_Cabinet", "Shelf", "Toys", "Sink", "Laptop",
    "Kettle", "Folder", "Keyboard", "Flipflops", "Pencil", "Bed", "Hammer", "ToothBrush", "Couch", "Bike",
    "Postit_Notes", "Mug", "Webcam", "Desk_Lamp", "Telephone", "Helmet", "Mouse", "Pen", "Monitor", "Mop",
    "Sneakers", "Notebook", "Backpack", "Alarm_Clock", "Push_Pin", "Paper_Clip", "Batteries", "Radio", "Fan",
    "Ruler", "Pan", "Screwdriver", "Trash_Can", "Printer", "Speaker", "Eraser", "Bucket", "Chair", "Calendar",
    "Calculator", "Flowers", "Lamp_Shade", "Spoon", "Candles", "Clipboards", "Scissors", "TV", "Curtains",
    "Fork", "Soda", "Table", "Knives", "Oven", "Refrigerator", "Marker",
)
PROMPT_OVERRIDES = {"Postit_Notes": "post-it notes", "Flipflops": "flip flops"}
SHORT = {"art": "Ar", "clipart": "Cl", "product": "Pr", "real_world": "Rw"}
#: tllib's file names per domain (its archives and image_list/ files).
TLLIB_NAMES = {"art": "Art", "clipart": "Clipart", "product": "Product", "real_world": "Real_World"}
TLLIB_IDS = {"image_list": "1b0171a188944313b1f5", "art": "6a006656b9a14567ade2",
             "clipart": "ae88aa31d2d7411dad79", "product": "f219b0ff35e142b3ab48",
             "real_world": "6c19f3f15bb24ed3951a"}
TLLIB = "https://cloud.tsinghua.edu.cn/f/{}/?dl=1"


def office_home_prompt_names(classes):
    return tuple(PROMPT_OVERRIDES.get(c, prompt_name(c, keep_case=("TV",))) for c in classes)


class OfficeHome(FolderDataset):
    name = "officehome"
    classes = SORTED_CLASSES
    prompt_names = office_home_prompt_names(SORTED_CLASSES)
    domains = tuple(SHORT)
    # The words DAPL's code puts in its prompts, ", a real_world image..": Dassl's domain names, underscore kept.
    domain_prompt_names = {"art": "art", "clipart": "clipart", "product": "product", "real_world": "real_world"}
    tasks = pair_tasks(SHORT)
    # DAPL's single zero-shot prompt (docs/methods.md, zeroshot).
    templates = ("a photo of a {}.",)
    train_split = adapt_split = eval_split = WHOLE_DOMAIN
    layout = Layout(
        dataset_dirs=("officehome", "office_home", "OfficeHome", "OfficeHomeDataset_10072016"),
        domain_dirs={"art": ("Art", "art"), "clipart": ("Clipart", "clipart"), "product": ("Product", "product"),
                     "real_world": ("Real_World", "Real World", "RealWorld", "real_world", "real")},
        split_lists={(d, WHOLE_DOMAIN): (f"image_list/{TLLIB_NAMES[d]}.txt",) for d in SHORT},
    )
    expected_counts = {("art", WHOLE_DOMAIN): 2427, ("clipart", WHOLE_DOMAIN): 4365,
                       ("product", WHOLE_DOMAIN): 4439, ("real_world", WHOLE_DOMAIN): 4357}
    downloads = {
        # tllib's mirrors of the original images, one archive per domain (no checksum published).
        "tllib": [
            {"name": "image_list.zip", "into": "officehome/image_list",
             "urls": [TLLIB.format(TLLIB_IDS["image_list"])]},
            *({"name": f"{TLLIB_NAMES[d]}.tgz", "into": f"officehome/{TLLIB_NAMES[d]}",
               "urls": [TLLIB.format(TLLIB_IDS[d])]} for d in SHORT),
        ],
        # pytorch-adapt's archive: resized images in art/clipart/product/real, with an md5.
        "pytorch-adapt": [
            {"name": "officehome_resized.tar.gz", "into": "officehome", "md5": "52d6039512434aa561d66de9c10828c3",
             "urls": ["https://cornell.box.com/shared/static/xwsbubtcr8flqfuds5f6okqbr3z0w82t"]},
        ],
    }
    source_info = ("the Office-Home page http://hemanthdv.org/OfficeHome-Dataset/ (archive "
                   "OfficeHomeDataset_10072016; DomainBed's Google Drive id 1uY0pj7oFsjMxRwaD3Sxy0jgel0fsYXLC)")


class OfficeHomeTllib(OfficeHome):
    name = "officehome-tllib"
    classes = TLLIB_CLASSES
    prompt_names = office_home_prompt_names(TLLIB_CLASSES)


@hookimpl
def register_datasets(register):
    register(OfficeHome)
    register(OfficeHomeTllib)
