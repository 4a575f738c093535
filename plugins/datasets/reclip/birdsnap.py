"""Dataset plugin ``birdsnap``: Birdsnap (Berg et al., CVPR 2014), 500 species of North American birds in
Flickr photos, as ReCLIP's benchmark reads it: one domain, the official test list filtered to the
images the download fetched.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``birdsnap``; ReCLIP adapts on the images it
scores, unlabeled: run it with ``--transductive``. Without it a source-free method adapts on the
train split (the inductive variant): the images ``images.txt`` lists that are not test images.

The scored set, ReCLIP's rule (its ``birdsnap`` class, ``datasets.py``), mirrored: the paths of
``test_images.txt`` (a header line, then one path a line; 2,443 paths) that exist under
``download/images/``. Birdsnap ships no images, only the Flickr addresses that its
``get_birdsnap.py`` downloads, and Flickr has lost some of them, so the scored set depends on what
that script fetched: each run records it (the metric ``eval_images``), and fewer than the 2,443 a
loader warns about (``CountMismatchWarning``). Scores on downloads of different size are not
strictly comparable. The train split follows the same rule on ``images.txt`` (its ``path`` column,
49,829 rows; the readme).

Labels: ReCLIP's rule. The species of ``species.txt`` (tab-separated, a header line, then id,
common name, scientific name, dir) sorted by common name give the labels; an image's label is that
of the species whose ``dir`` is its folder's name in lower case. Class names and template: ReCLIP's
``prompts/clip_prompts`` entry ``"birdsnap"`` (OpenAI's names, spelt without apostrophes and hyphens:
``Allens Hummingbird``), ``0 Acadian Flycatcher`` ... ``499 Zone tailed Hawk``, with "a photo of a {},
a type of bird.". ReCLIP takes the names and the sorted species to correspond one to one; the
loader checks it: the sorted common names must be ReCLIP's names up to case, spaces and punctuation
(``Black-and-white Warbler`` is ``Black and white Warbler``), else ``species.txt`` is refused. An
image folder is matched to a ``dir`` whatever the case of either (ReCLIP's code lowercases the folder
and expects the dirs in lower case).

Layout under ``--root`` (ReCLIP's): ``birdsnap/`` is the unpacked ``birdsnap.tgz`` (``species.txt``,
``images.txt``, ``test_images.txt``, ``get_birdsnap.py``); ``birdsnap/download/images/<Species_Dir>/<n>.jpg``
is where ``get_birdsnap.py`` (run in ``birdsnap/``) puts the images.

Sources: the archive's URL, https://thomasberg.org/datasets/birdsnap/1.1/birdsnap.tgz (the metadata
and the download script); the file formats and counts from its readme.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from pathlib import Path

from udabench import CountMismatchWarning, DataError, SplitFileDataset, hookimpl, is_folder, list_folder

#: ReCLIP's class names (``prompts/clip_prompts``, ``"birdsnap"``), in label order.
CLASSES = (
    "Acadian Flycatcher", "Acorn Woodpecker", "Alder Flycatcher", "Allens Hummingbird", "Altamira Oriole",
    "American Avocet", "American Bittern", "American Black Duck", "American Coot", "American Crow",
    "American Dipper", "American Golden Plover", "American Goldfinch", "American Kestrel",
    "American Oystercatcher", "American Pipit", "American Redstart", "American Robin",
    "American Three toed Woodpecker", "American Tree Sparrow", "American White Pelican", "American Wigeon",
    "American Woodcock", "Anhinga", "Annas Hummingbird", "Arctic Tern", "Ash throated Flycatcher",
    "Audubons Oriole", "Bairds Sandpiper", "Bald Eagle", "Baltimore Oriole", "Band tailed Pigeon",
    "Barn Swallow", "Barred Owl", "Barrows Goldeneye", "Bay breasted Warbler", "Bells Vireo",
    "Belted Kingfisher", "Bewicks Wren", "Black Guillemot", "Black Oystercatcher", "Black Phoebe",
    "Black Rosy Finch", "Black Scoter", "Black Skimmer", "Black Tern", "Black Turnstone", "Black Vulture",
    "Black and white Warbler", "Black backed Woodpecker", "Black bellied Plover", "Black billed Cuckoo",
    "Black billed Magpie", "Black capped Chickadee", "Black chinned Hummingbird", "Black chinned Sparrow",
    "Black crested Titmouse", "Black crowned Night Heron", "Black headed Grosbeak", "Black legged Kittiwake",
    "Black necked Stilt", "Black throated Blue Warbler", "Black throated Gray Warbler",
    "Black throated Green Warbler", "Black throated Sparrow", "Blackburnian Warbler", "Blackpoll Warbler",
    "Blue Grosbeak", "Blue Jay", "Blue gray Gnatcatcher", "Blue headed Vireo", "Blue winged Teal",
    "Blue winged Warbler", "Boat tailed Grackle", "Bobolink", "Bohemian Waxwing", "Bonapartes Gull",
    "Boreal Chickadee", "Brandts Cormorant", "Brant", "Brewers Blackbird", "Brewers Sparrow",
    "Bridled Titmouse", "Broad billed Hummingbird", "Broad tailed Hummingbird", "Broad winged Hawk",
    "Bronzed Cowbird", "Brown Creeper", "Brown Pelican", "Brown Thrasher", "Brown capped Rosy Finch",
    "Brown crested Flycatcher", "Brown headed Cowbird", "Brown headed Nuthatch", "Bufflehead",
    "Bullocks Oriole", "Burrowing Owl", "Bushtit", "Cackling Goose", "Cactus Wren", "California Gull",
    "California Quail", "California Thrasher", "California Towhee", "Calliope Hummingbird", "Canada Goose",
    "Canada Warbler", "Canvasback", "Canyon Towhee", "Canyon Wren", "Cape May Warbler", "Carolina Chickadee",
    "Carolina Wren", "Caspian Tern", "Cassins Finch", "Cassins Kingbird", "Cassins Sparrow", "Cassins Vireo",
    "Cattle Egret", "Cave Swallow", "Cedar Waxwing", "Cerulean Warbler", "Chestnut backed Chickadee",
    "Chestnut collared Longspur", "Chestnut sided Warbler", "Chihuahuan Raven", "Chimney Swift",
    "Chipping Sparrow", "Cinnamon Teal", "Clapper Rail", "Clarks Grebe", "Clarks Nutcracker",
    "Clay colored Sparrow", "Cliff Swallow", "Common Black Hawk", "Common Eider", "Common Gallinule",
    "Common Goldeneye", "Common Grackle", "Common Ground Dove", "Common Loon", "Common Merganser",
    "Common Murre", "Common Nighthawk", "Common Raven", "Common Redpoll", "Common Tern",
    "Common Yellowthroat", "Connecticut Warbler", "Coopers Hawk", "Cordilleran Flycatcher",
    "Costas Hummingbird", "Couchs Kingbird", "Crested Caracara", "Curve billed Thrasher", "Dark eyed Junco",
    "Dickcissel", "Double crested Cormorant", "Downy Woodpecker", "Dunlin", "Dusky Flycatcher",
    "Dusky Grouse", "Eared Grebe", "Eastern Bluebird", "Eastern Kingbird", "Eastern Meadowlark",
    "Eastern Phoebe", "Eastern Screech Owl", "Eastern Towhee", "Eastern Wood Pewee", "Elegant Trogon",
    "Elf Owl", "Eurasian Collared Dove", "Eurasian Wigeon", "European Starling", "Evening Grosbeak",
    "Ferruginous Hawk", "Ferruginous Pygmy Owl", "Field Sparrow", "Fish Crow", "Florida Scrub Jay",
    "Forsters Tern", "Fox Sparrow", "Franklins Gull", "Fulvous Whistling Duck", "Gadwall", "Gambels Quail",
    "Gila Woodpecker", "Glaucous Gull", "Glaucous winged Gull", "Glossy Ibis", "Golden Eagle",
    "Golden crowned Kinglet", "Golden crowned Sparrow", "Golden fronted Woodpecker", "Golden winged Warbler",
    "Grasshopper Sparrow", "Gray Catbird", "Gray Flycatcher", "Gray Jay", "Gray Kingbird",
    "Gray cheeked Thrush", "Gray crowned Rosy Finch", "Great Black backed Gull", "Great Blue Heron",
    "Great Cormorant", "Great Crested Flycatcher", "Great Egret", "Great Gray Owl", "Great Horned Owl",
    "Great Kiskadee", "Great tailed Grackle", "Greater Prairie Chicken", "Greater Roadrunner",
    "Greater Sage Grouse", "Greater Scaup", "Greater White fronted Goose", "Greater Yellowlegs", "Green Jay",
    "Green tailed Towhee", "Green winged Teal", "Groove billed Ani", "Gull billed Tern", "Hairy Woodpecker",
    "Hammonds Flycatcher", "Harlequin Duck", "Harriss Hawk", "Harriss Sparrow", "Heermanns Gull",
    "Henslows Sparrow", "Hepatic Tanager", "Hermit Thrush", "Herring Gull", "Hoary Redpoll",
    "Hooded Merganser", "Hooded Oriole", "Hooded Warbler", "Horned Grebe", "Horned Lark", "House Finch",
    "House Sparrow", "House Wren", "Huttons Vireo", "Iceland Gull", "Inca Dove", "Indigo Bunting", "Killdeer",
    "King Rail", "Ladder backed Woodpecker", "Lapland Longspur", "Lark Bunting", "Lark Sparrow",
    "Laughing Gull", "Lazuli Bunting", "Le Contes Sparrow", "Least Bittern", "Least Flycatcher",
    "Least Grebe", "Least Sandpiper", "Least Tern", "Lesser Goldfinch", "Lesser Nighthawk", "Lesser Scaup",
    "Lesser Yellowlegs", "Lewiss Woodpecker", "Limpkin", "Lincolns Sparrow", "Little Blue Heron",
    "Loggerhead Shrike", "Long billed Curlew", "Long billed Dowitcher", "Long billed Thrasher",
    "Long eared Owl", "Long tailed Duck", "Louisiana Waterthrush", "Magnificent Frigatebird",
    "Magnolia Warbler", "Mallard", "Marbled Godwit", "Marsh Wren", "Merlin", "Mew Gull", "Mexican Jay",
    "Mississippi Kite", "Monk Parakeet", "Mottled Duck", "Mountain Bluebird", "Mountain Chickadee",
    "Mountain Plover", "Mourning Dove", "Mourning Warbler", "Muscovy Duck", "Mute Swan", "Nashville Warbler",
    "Nelsons Sparrow", "Neotropic Cormorant", "Northern Bobwhite", "Northern Cardinal", "Northern Flicker",
    "Northern Gannet", "Northern Goshawk", "Northern Harrier", "Northern Hawk Owl", "Northern Mockingbird",
    "Northern Parula", "Northern Pintail", "Northern Rough winged Swallow", "Northern Saw whet Owl",
    "Northern Shrike", "Northern Waterthrush", "Nuttalls Woodpecker", "Oak Titmouse", "Olive Sparrow",
    "Olive sided Flycatcher", "Orange crowned Warbler", "Orchard Oriole", "Osprey", "Ovenbird",
    "Pacific Golden Plover", "Pacific Loon", "Pacific Wren", "Pacific slope Flycatcher", "Painted Bunting",
    "Painted Redstart", "Palm Warbler", "Pectoral Sandpiper", "Peregrine Falcon", "Phainopepla",
    "Philadelphia Vireo", "Pied billed Grebe", "Pigeon Guillemot", "Pileated Woodpecker", "Pine Grosbeak",
    "Pine Siskin", "Pine Warbler", "Piping Plover", "Plumbeous Vireo", "Prairie Falcon", "Prairie Warbler",
    "Prothonotary Warbler", "Purple Finch", "Purple Gallinule", "Purple Martin", "Purple Sandpiper",
    "Pygmy Nuthatch", "Pyrrhuloxia", "Red Crossbill", "Red Knot", "Red Phalarope", "Red bellied Woodpecker",
    "Red breasted Merganser", "Red breasted Nuthatch", "Red breasted Sapsucker", "Red cockaded Woodpecker",
    "Red eyed Vireo", "Red headed Woodpecker", "Red naped Sapsucker", "Red necked Grebe",
    "Red necked Phalarope", "Red shouldered Hawk", "Red tailed Hawk", "Red throated Loon",
    "Red winged Blackbird", "Reddish Egret", "Redhead", "Ring billed Gull", "Ring necked Duck",
    "Ring necked Pheasant", "Rock Pigeon", "Rock Ptarmigan", "Rock Sandpiper", "Rock Wren",
    "Rose breasted Grosbeak", "Roseate Tern", "Rosss Goose", "Rough legged Hawk", "Royal Tern",
    "Ruby crowned Kinglet", "Ruby throated Hummingbird", "Ruddy Duck", "Ruddy Turnstone", "Ruffed Grouse",
    "Rufous Hummingbird", "Rufous crowned Sparrow", "Rusty Blackbird", "Sage Thrasher", "Saltmarsh Sparrow",
    "Sanderling", "Sandhill Crane", "Sandwich Tern", "Says Phoebe", "Scaled Quail", "Scarlet Tanager",
    "Scissor tailed Flycatcher", "Scotts Oriole", "Seaside Sparrow", "Sedge Wren", "Semipalmated Plover",
    "Semipalmated Sandpiper", "Sharp shinned Hawk", "Sharp tailed Grouse", "Short billed Dowitcher",
    "Short eared Owl", "Snail Kite", "Snow Bunting", "Snow Goose", "Snowy Egret", "Snowy Owl", "Snowy Plover",
    "Solitary Sandpiper", "Song Sparrow", "Sooty Grouse", "Sora", "Spotted Owl", "Spotted Sandpiper",
    "Spotted Towhee", "Spruce Grouse", "Stellers Jay", "Stilt Sandpiper", "Summer Tanager", "Surf Scoter",
    "Surfbird", "Swainsons Hawk", "Swainsons Thrush", "Swallow tailed Kite", "Swamp Sparrow",
    "Tennessee Warbler", "Thayers Gull", "Townsends Solitaire", "Townsends Warbler", "Tree Swallow",
    "Tricolored Heron", "Tropical Kingbird", "Trumpeter Swan", "Tufted Titmouse", "Tundra Swan",
    "Turkey Vulture", "Upland Sandpiper", "Varied Thrush", "Veery", "Verdin", "Vermilion Flycatcher",
    "Vesper Sparrow", "Violet green Swallow", "Virginia Rail", "Wandering Tattler", "Warbling Vireo",
    "Western Bluebird", "Western Grebe", "Western Gull", "Western Kingbird", "Western Meadowlark",
    "Western Sandpiper", "Western Screech Owl", "Western Scrub Jay", "Western Tanager", "Western Wood Pewee",
    "Whimbrel", "White Ibis", "White breasted Nuthatch", "White crowned Sparrow", "White eyed Vireo",
    "White faced Ibis", "White headed Woodpecker", "White rumped Sandpiper", "White tailed Hawk",
    "White tailed Kite", "White tailed Ptarmigan", "White throated Sparrow", "White throated Swift",
    "White winged Crossbill", "White winged Dove", "White winged Scoter", "Wild Turkey", "Willet",
    "Williamsons Sapsucker", "Willow Flycatcher", "Willow Ptarmigan", "Wilsons Phalarope", "Wilsons Plover",
    "Wilsons Snipe", "Wilsons Warbler", "Winter Wren", "Wood Stork", "Wood Thrush", "Worm eating Warbler",
    "Wrentit", "Yellow Warbler", "Yellow bellied Flycatcher", "Yellow bellied Sapsucker",
    "Yellow billed Cuckoo", "Yellow billed Magpie", "Yellow breasted Chat", "Yellow crowned Night Heron",
    "Yellow eyed Junco", "Yellow headed Blackbird", "Yellow rumped Warbler", "Yellow throated Vireo",
    "Yellow throated Warbler", "Zone tailed Hawk",
)
TEMPLATES = ("a photo of a {}, a type of bird.",)
SPECIES = "species.txt"
IMAGES_TABLE = "images.txt"
TEST_LIST = "test_images.txt"
ARCHIVE_URLS = ("https://thomasberg.org/datasets/birdsnap/1.1/birdsnap.tgz",
                "http://thomasberg.org/datasets/birdsnap/1.1/birdsnap.tgz")


class Birdsnap(SplitFileDataset):
    name = "birdsnap"
    classes = CLASSES
    templates = TEMPLATES
    splits = ("train", "test")
    train_split, adapt_split, eval_split, val_split = "train", "train", "test", None
    dataset_dirs = ("birdsnap",)
    image_dir = "download/images"
    #: The images the lists name (the readme: 49,829 in all, 2,443 of them test images).
    expected_counts = {"train": 47386, "test": 2443}
    downloads = {
        # The metadata and get_birdsnap.py: run it in <root>/birdsnap to fetch the images from Flickr.
        "metadata": [{"name": "birdsnap.tgz", "into": "birdsnap", "urls": list(ARCHIVE_URLS)}],
    }
    source_info = (f"{ARCHIVE_URLS[0]} (unpack it into <root>, then run `python get_birdsnap.py` in <root>/birdsnap: "
                   f"it downloads the images from Flickr into download/images/; Python 2, as the script was written)")

    def __init__(self, root=None):
        super().__init__(root)
        self._listed: dict[str, int] = {}

    @classmethod
    def describe_layout(cls) -> str:
        return "\n".join([
            f"  <root>/{cls.dataset_dirs[0]}/    (or <root> itself): birdsnap.tgz unpacked",
            f"    {SPECIES:<40} id, common, scientific, dir (tab-separated, a header line)",
            f"    {TEST_LIST:<40} the test images' paths (a header line)",
            f"    {IMAGES_TABLE:<40} every image: url, md5, path, species_id, ... (tab-separated, a header line)",
            f"    {cls.image_dir}/<Species_Dir>/<n>.jpg    what get_birdsnap.py downloaded",
        ])

    def read_split(self, base: Path, split: str) -> list[tuple[str, int]]:
        """``(path, label)`` of the listed images of ``split`` that are on disk, in list order."""
        for name in (SPECIES, TEST_LIST) + ((IMAGES_TABLE,) if split == "train" else ()):
            if not (base / name).is_file():
                raise DataError(self.missing_message(split, [f"no {name} in {base} (it comes with birdsnap.tgz)"]))
        label_of = read_species(base / SPECIES, self.classes, self._fix())
        listed = self.listed_paths(base, split)
        self._listed[split] = len(listed)
        image_root = base / self.image_dir
        kept = on_disk(image_root, listed, self._fix())
        if not kept:
            raise DataError(self.missing_message(split, [
                f"none of the {len(listed):,} {split} images the lists name is under {image_root}: "
                f"run get_birdsnap.py in {base} to download them"]))
        entries = []
        for rel in kept:
            folder = rel.rpartition("/")[0].rpartition("/")[2]
            if folder.lower() not in label_of:
                raise DataError(f"{rel}: its folder {folder!r} is the dir of no species of {base / SPECIES}; "
                                f"the lists and species.txt come from different versions of Birdsnap. {self._fix()}")
            entries.append((rel, label_of[folder.lower()]))
        return entries

    def listed_paths(self, base: Path, split: str) -> list[str]:
        """The paths ``split``'s list names: ``test_images.txt``'s, or ``images.txt``'s others."""
        test = read_path_list(base / TEST_LIST, self._fix())
        if split == "test":
            return test
        held_out = set(test)
        return [p for p in read_image_table(base / IMAGES_TABLE, self._fix()) if p not in held_out]

    def _check_count(self, split: str, count: int) -> None:
        """Warn when fewer images are on disk than listed, or the list is not the published one."""
        listed, expected = self._listed.get(split, count), self.expected_counts.get(split)
        if count != listed or (expected is not None and listed != expected):
            warnings.warn(f"birdsnap: {count:,} of the {listed:,} {split} images the lists name are on disk (the "
                          f"benchmark lists {expected:,}): as in ReCLIP's code, the scored set is what get_birdsnap.py "
                          f"fetched, and each run records its size (eval_images)", CountMismatchWarning, stacklevel=3)


def _text_lines(path: Path, fix: str) -> list[str]:
    """The lines of a text file, or a DataError naming it."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc}). {fix}") from None


def letters(name: str) -> str:
    """A species name reduced to its letters, lower case: how ReCLIP's names and species.txt's are compared."""
    return re.sub(r"[^a-z]", "", name.lower())


def read_species(path: Path, classes: tuple[str, ...], fix: str) -> dict[str, int]:
    """``species.txt``'s dirs (lower case) -> label, the species sorted by common name (ReCLIP's rule);
    refused when the sorted names are not ``classes`` (up to :func:`letters`)."""
    names, dirs = [], []
    for n, line in enumerate(_text_lines(path, fix)[1:], 2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 4:
            raise DataError(f"{path}, line {n}: {line!r} is not 'id<TAB>common<TAB>scientific<TAB>dir'. {fix}")
        names.append(parts[1].strip())
        dirs.append(parts[3].strip())
    if len(names) != len(classes):
        raise DataError(f"{path} lists {len(names)} species; Birdsnap has {len(classes)}. {fix}")
    order = sorted(range(len(names)), key=names.__getitem__)
    for label, i in enumerate(order):
        if letters(names[i]) != letters(classes[label]):
            raise DataError(f"{path}: sorted by common name, species {label} is {names[i]!r}, but ReCLIP's class "
                            f"{label} is {classes[label]!r}: another version of Birdsnap's species list. {fix}")
    return {dirs[i].lower(): label for label, i in enumerate(order)}


def read_path_list(path: Path, fix: str) -> list[str]:
    """The paths of a list with a header line (``test_images.txt``), blank lines left out."""
    paths = [line.strip().replace("\\", "/") for line in _text_lines(path, fix)[1:] if line.strip()]
    if not paths:
        raise DataError(f"{path} lists no image. {fix}")
    return paths


def read_image_table(path: Path, fix: str) -> list[str]:
    """The ``path`` column of ``images.txt`` (tab-separated, field names on the first line)."""
    lines = _text_lines(path, fix)
    header = lines[0].split("\t") if lines else []
    if "path" not in header:
        raise DataError(f"{path} has no 'path' column (its first line names {', '.join(header) or 'nothing'}). {fix}")
    column = header.index("path")
    paths = []
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) <= column:
            raise DataError(f"{path}, line {n} has {len(parts)} fields; the path is field {column + 1}. {fix}")
        paths.append(parts[column].strip().replace("\\", "/"))
    return paths


def on_disk(image_root: Path, relpaths: list[str], fix: str) -> list[str]:
    """The paths among ``relpaths`` whose file is under ``image_root`` (each folder listed once), in order."""
    by_folder: dict[str, set[str]] = defaultdict(set)
    for rel in relpaths:
        head, _, name = rel.rpartition("/")
        by_folder[head].add(name)
    present: set[str] = set()
    for head, names in by_folder.items():
        folder = image_root / head if head else image_root
        if is_folder(folder, fix):
            present |= {f"{head}/{e.name}" if head else e.name for e in list_folder(folder, fix) if e.name in names}
    return [rel for rel in relpaths if rel in present]


@hookimpl
def register_datasets(register):
    register(Birdsnap)
