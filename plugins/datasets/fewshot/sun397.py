"""Dataset plugin ``sun397``: SUN397 (Xiao et al., CVPR 2010), 397 scene categories, as CoOp's few-shot
suite reads it: one domain, CoOp's fixed train / val / test split.

Protocol (docs/methods.md, the few-shot suite): one task, ``sun397``; K shots per class drawn by
seed from the train split, hyperparameters chosen on the val split, scored on the test split
(15,880 / 3,970 / 19,850 images, CoOp's paper, dataset table: CoOp took the first of SUN397's ten
official partitions, 50 training and 50 test images a class, and split the training images
80 / 20 into train and val).

Labels: the order of SUN397's ``ClassName.txt`` (the category paths sorted: ``/a/abbey``,
``/a/airplane_cabin``, ... ``/y/youth_hostel``), which CoOp's reader (``datasets/sun397.py``)
numbers in file order. CoOp names a category after its path without the letter folder, the
parts in reverse order, joined by a space: ``/a/abbey`` is ``abbey`` and
``/a/apartment_building/outdoor`` is ``outdoor apartment_building``. So label 0 is ``abbey``,
label 8 ``outdoor apartment_building`` and label 396 ``youth_hostel``. The split file names
each label; a file that names them otherwise is refused.

Prompt: CoOp's zero-shot template for SUN397 (``trainers/zsclip.py``), "a photo of a {}.", with
underscores read as spaces ("outdoor apartment building").

Layout under ``--root`` (CoOp's DATASETS.md): ``sun397/SUN397/<letter>/<category>[/<sub>]/sun_*.jpg``
(the official archive, which also holds ``ClassName.txt``) and ``sun397/split_zhou_SUN397.json``,
whose paths (``a/abbey/sun_aaalbzqrimafwbiv.jpg``) are relative to ``SUN397/``.

Sources: the category paths as listed in SUN397's ``ClassName.txt`` (108,754 images in all);
the CoOp names were checked against a CoOp-derived SUN397 class list in a public repository.
The archive URL and its md5 are torchvision's (``torchvision/datasets/sun397.py``).
"""

from __future__ import annotations

from udabench import SplitFileDataset, hookimpl

#: SUN397's category paths (``ClassName.txt`` without the leading slash), in label order.
CATEGORIES = (
    "a/abbey", "a/airplane_cabin", "a/airport_terminal", "a/alley", "a/amphitheater",
    "a/amusement_arcade", "a/amusement_park", "a/anechoic_chamber", "a/apartment_building/outdoor",
    "a/apse/indoor", "a/aquarium", "a/aqueduct", "a/arch", "a/archive", "a/arrival_gate/outdoor",
    "a/art_gallery", "a/art_school", "a/art_studio", "a/assembly_line", "a/athletic_field/outdoor",
    "a/atrium/public", "a/attic", "a/auditorium", "a/auto_factory", "b/badlands",
    "b/badminton_court/indoor", "b/baggage_claim", "b/bakery/shop", "b/balcony/exterior",
    "b/balcony/interior", "b/ball_pit", "b/ballroom", "b/bamboo_forest", "b/banquet_hall", "b/bar",
    "b/barn", "b/barndoor", "b/baseball_field", "b/basement", "b/basilica",
    "b/basketball_court/outdoor", "b/bathroom", "b/batters_box", "b/bayou", "b/bazaar/indoor",
    "b/bazaar/outdoor", "b/beach", "b/beauty_salon", "b/bedroom", "b/berth", "b/biology_laboratory",
    "b/bistro/indoor", "b/boardwalk", "b/boat_deck", "b/boathouse", "b/bookstore", "b/booth/indoor",
    "b/botanical_garden", "b/bow_window/indoor", "b/bow_window/outdoor", "b/bowling_alley",
    "b/boxing_ring", "b/brewery/indoor", "b/bridge", "b/building_facade", "b/bullring",
    "b/burial_chamber", "b/bus_interior", "b/butchers_shop", "b/butte", "c/cabin/outdoor",
    "c/cafeteria", "c/campsite", "c/campus", "c/canal/natural", "c/canal/urban", "c/candy_store",
    "c/canyon", "c/car_interior/backseat", "c/car_interior/frontseat", "c/carrousel",
    "c/casino/indoor", "c/castle", "c/catacomb", "c/cathedral/indoor", "c/cathedral/outdoor",
    "c/cavern/indoor", "c/cemetery", "c/chalet", "c/cheese_factory", "c/chemistry_lab",
    "c/chicken_coop/indoor", "c/chicken_coop/outdoor", "c/childs_room", "c/church/indoor",
    "c/church/outdoor", "c/classroom", "c/clean_room", "c/cliff", "c/cloister/indoor", "c/closet",
    "c/clothing_store", "c/coast", "c/cockpit", "c/coffee_shop", "c/computer_room",
    "c/conference_center", "c/conference_room", "c/construction_site", "c/control_room",
    "c/control_tower/outdoor", "c/corn_field", "c/corral", "c/corridor", "c/cottage_garden",
    "c/courthouse", "c/courtroom", "c/courtyard", "c/covered_bridge/exterior", "c/creek", "c/crevasse",
    "c/crosswalk", "c/cubicle/office", "d/dam", "d/delicatessen", "d/dentists_office", "d/desert/sand",
    "d/desert/vegetation", "d/diner/indoor", "d/diner/outdoor", "d/dinette/home", "d/dinette/vehicle",
    "d/dining_car", "d/dining_room", "d/discotheque", "d/dock", "d/doorway/outdoor", "d/dorm_room",
    "d/driveway", "d/driving_range/outdoor", "d/drugstore", "e/electrical_substation",
    "e/elevator/door", "e/elevator/interior", "e/elevator_shaft", "e/engine_room",
    "e/escalator/indoor", "e/excavation", "f/factory/indoor", "f/fairway", "f/fastfood_restaurant",
    "f/field/cultivated", "f/field/wild", "f/fire_escape", "f/fire_station", "f/firing_range/indoor",
    "f/fishpond", "f/florist_shop/indoor", "f/food_court", "f/forest/broadleaf", "f/forest/needleleaf",
    "f/forest_path", "f/forest_road", "f/formal_garden", "f/fountain", "g/galley", "g/game_room",
    "g/garage/indoor", "g/garbage_dump", "g/gas_station", "g/gazebo/exterior",
    "g/general_store/indoor", "g/general_store/outdoor", "g/gift_shop", "g/golf_course",
    "g/greenhouse/indoor", "g/greenhouse/outdoor", "g/gymnasium/indoor", "h/hangar/indoor",
    "h/hangar/outdoor", "h/harbor", "h/hayfield", "h/heliport", "h/herb_garden", "h/highway", "h/hill",
    "h/home_office", "h/hospital", "h/hospital_room", "h/hot_spring", "h/hot_tub/outdoor",
    "h/hotel/outdoor", "h/hotel_room", "h/house", "h/hunting_lodge/outdoor", "i/ice_cream_parlor",
    "i/ice_floe", "i/ice_shelf", "i/ice_skating_rink/indoor", "i/ice_skating_rink/outdoor",
    "i/iceberg", "i/igloo", "i/industrial_area", "i/inn/outdoor", "i/islet", "j/jacuzzi/indoor",
    "j/jail/indoor", "j/jail_cell", "j/jewelry_shop", "k/kasbah", "k/kennel/indoor",
    "k/kennel/outdoor", "k/kindergarden_classroom", "k/kitchen", "k/kitchenette",
    "l/labyrinth/outdoor", "l/lake/natural", "l/landfill", "l/landing_deck", "l/laundromat",
    "l/lecture_room", "l/library/indoor", "l/library/outdoor", "l/lido_deck/outdoor", "l/lift_bridge",
    "l/lighthouse", "l/limousine_interior", "l/living_room", "l/lobby", "l/lock_chamber",
    "l/locker_room", "m/mansion", "m/manufactured_home", "m/market/indoor", "m/market/outdoor",
    "m/marsh", "m/martial_arts_gym", "m/mausoleum", "m/medina", "m/moat/water", "m/monastery/outdoor",
    "m/mosque/indoor", "m/mosque/outdoor", "m/motel", "m/mountain", "m/mountain_snowy",
    "m/movie_theater/indoor", "m/museum/indoor", "m/music_store", "m/music_studio",
    "n/nuclear_power_plant/outdoor", "n/nursery", "o/oast_house", "o/observatory/outdoor", "o/ocean",
    "o/office", "o/office_building", "o/oil_refinery/outdoor", "o/oilrig", "o/operating_room",
    "o/orchard", "o/outhouse/outdoor", "p/pagoda", "p/palace", "p/pantry", "p/park",
    "p/parking_garage/indoor", "p/parking_garage/outdoor", "p/parking_lot", "p/parlor", "p/pasture",
    "p/patio", "p/pavilion", "p/pharmacy", "p/phone_booth", "p/physics_laboratory", "p/picnic_area",
    "p/pilothouse/indoor", "p/planetarium/outdoor", "p/playground", "p/playroom", "p/plaza",
    "p/podium/indoor", "p/podium/outdoor", "p/pond", "p/poolroom/establishment", "p/poolroom/home",
    "p/power_plant/outdoor", "p/promenade_deck", "p/pub/indoor", "p/pulpit", "p/putting_green",
    "r/racecourse", "r/raceway", "r/raft", "r/railroad_track", "r/rainforest", "r/reception",
    "r/recreation_room", "r/residential_neighborhood", "r/restaurant", "r/restaurant_kitchen",
    "r/restaurant_patio", "r/rice_paddy", "r/riding_arena", "r/river", "r/rock_arch", "r/rope_bridge",
    "r/ruin", "r/runway", "s/sandbar", "s/sandbox", "s/sauna", "s/schoolhouse", "s/sea_cliff",
    "s/server_room", "s/shed", "s/shoe_shop", "s/shopfront", "s/shopping_mall/indoor", "s/shower",
    "s/skatepark", "s/ski_lodge", "s/ski_resort", "s/ski_slope", "s/sky", "s/skyscraper", "s/slum",
    "s/snowfield", "s/squash_court", "s/stable", "s/stadium/baseball", "s/stadium/football",
    "s/stage/indoor", "s/staircase", "s/street", "s/subway_interior", "s/subway_station/platform",
    "s/supermarket", "s/sushi_bar", "s/swamp", "s/swimming_pool/indoor", "s/swimming_pool/outdoor",
    "s/synagogue/indoor", "s/synagogue/outdoor", "t/television_studio", "t/temple/east_asia",
    "t/temple/south_asia", "t/tennis_court/indoor", "t/tennis_court/outdoor", "t/tent/outdoor",
    "t/theater/indoor_procenium", "t/theater/indoor_seats", "t/thriftshop", "t/throne_room",
    "t/ticket_booth", "t/toll_plaza", "t/topiary_garden", "t/tower", "t/toyshop", "t/track/outdoor",
    "t/train_railway", "t/train_station/platform", "t/tree_farm", "t/tree_house", "t/trench",
    "u/underwater/coral_reef", "u/utility_room", "v/valley", "v/van_interior", "v/vegetable_garden",
    "v/veranda", "v/veterinarians_office", "v/viaduct", "v/videostore", "v/village", "v/vineyard",
    "v/volcano", "v/volleyball_court/indoor", "v/volleyball_court/outdoor", "w/waiting_room",
    "w/warehouse/indoor", "w/water_tower", "w/waterfall/block", "w/waterfall/fan",
    "w/waterfall/plunge", "w/watering_hole", "w/wave", "w/wet_bar", "w/wheat_field", "w/wind_farm",
    "w/windmill", "w/wine_cellar/barrel_storage", "w/wine_cellar/bottle_storage",
    "w/wrestling_ring/indoor", "y/yard", "y/youth_hostel",
)


def coop_name(category: str) -> str:
    """CoOp's class name for a category path: the letter folder dropped, the remaining parts
    reversed and joined by a space (``a/apartment_building/outdoor`` -> ``outdoor apartment_building``)."""
    return " ".join(category.split("/")[1:][::-1])


CLASSES = tuple(coop_name(c) for c in CATEGORIES)
SPLIT_FILE_ID = "1y2RD81BYuiyvebdN-JymPfyWYcd8_MUq"


class SUN397(SplitFileDataset):
    name = "sun397"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a photo of a {}.",)
    dataset_dirs = ("sun397",)
    image_dir = "SUN397"
    split_file = "split_zhou_SUN397.json"
    expected_counts = {"train": 15880, "val": 3970, "test": 19850}
    downloads = {
        # The official archive (its top folder is SUN397/) and CoOp's split file.
        "official": [
            {"name": "SUN397.tar.gz", "into": "sun397", "md5": "8ca2778205c41d23104230ba66911c7a",
             "urls": ["http://vision.princeton.edu/projects/2010/SUN/SUN397.tar.gz"]},
            {"name": "split_zhou_SUN397.json", "into": "sun397",
             "urls": [f"https://drive.google.com/uc?export=download&id={SPLIT_FILE_ID}"]},
        ],
    }
    source_info = ("the images at https://vision.princeton.edu/projects/2010/SUN/ (SUN397.tar.gz, extracted "
                   "into <root>/sun397) and CoOp's split file split_zhou_SUN397.json "
                   f"(https://drive.google.com/file/d/{SPLIT_FILE_ID}, see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(SUN397)
