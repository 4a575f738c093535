"""Dataset plugin ``country211``: Country211 (OpenAI, the CLIP paper's geolocation benchmark), photos
from YFCC100M whose GPS position lies in one of 211 countries, as ReCLIP's benchmark reads it: one
domain, the official train / valid / test split.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``country211``; ReCLIP's code reads torchvision's
``Country211(split="test")`` (its ``datasets.py``) and adapts on the same images, unlabeled, that it
scores: run it with ``--transductive``. Without it a source-free method adapts on the train split
(the inductive variant). Splits: train 31,650, val 10,550 (the archive's ``valid`` folder), test
21,100: 150, 50 and 100 images a country (torchvision's ``country211.py`` docstring).

Labels: torchvision's, the class folders (ISO 3166-1 alpha-2 codes, Kosovo's user-assigned ``XK``)
sorted: ``0 AD`` ... ``210 ZW``. Class names and prompt templates: ReCLIP's ``prompts/clip_prompts``
entry ``"country211"`` (OpenAI's names and its five templates), whose 211 names follow that order:
``0 Andorra`` (AD), ``1 United Arab Emirates`` (AE), ... ``209 Zambia`` (ZM), ``210 Zimbabwe`` (ZW).
The code each name is paired with is its ISO code (``COUNTRIES``); that the codes come out sorted is
checked by the tests, which ties the names to torchvision's order.

Layout under ``--root`` (torchvision's): ``country211/{train,valid,test}/<code>/<image>.jpg``, as the
official ``country211.tgz`` unpacks.

Sources: the archive's URL and md5 are torchvision's (``torchvision/datasets/country211.py``).
"""

from __future__ import annotations

from udabench import hookimpl

from .class_folders import ClassFolderDataset

#: ISO code (the class folder) -> ReCLIP's class name, in label order (the codes sorted).
COUNTRIES = {
    "AD": "Andorra", "AE": "United Arab Emirates", "AF": "Afghanistan", "AG": "Antigua and Barbuda",
    "AI": "Anguilla", "AL": "Albania", "AM": "Armenia", "AO": "Angola", "AQ": "Antarctica", "AR": "Argentina",
    "AT": "Austria", "AU": "Australia", "AW": "Aruba", "AX": "Aland Islands", "AZ": "Azerbaijan",
    "BA": "Bosnia and Herzegovina", "BB": "Barbados", "BD": "Bangladesh", "BE": "Belgium",
    "BF": "Burkina Faso", "BG": "Bulgaria", "BH": "Bahrain", "BJ": "Benin", "BM": "Bermuda",
    "BN": "Brunei Darussalam", "BO": "Bolivia", "BQ": "Bonaire, Saint Eustatius and Saba", "BR": "Brazil",
    "BS": "Bahamas", "BT": "Bhutan", "BW": "Botswana", "BY": "Belarus", "BZ": "Belize", "CA": "Canada",
    "CD": "DR Congo", "CF": "Central African Republic", "CH": "Switzerland", "CI": "Cote d'Ivoire",
    "CK": "Cook Islands", "CL": "Chile", "CM": "Cameroon", "CN": "China", "CO": "Colombia",
    "CR": "Costa Rica", "CU": "Cuba", "CV": "Cabo Verde", "CW": "Curacao", "CY": "Cyprus",
    "CZ": "Czech Republic", "DE": "Germany", "DK": "Denmark", "DM": "Dominica", "DO": "Dominican Republic",
    "DZ": "Algeria", "EC": "Ecuador", "EE": "Estonia", "EG": "Egypt", "ES": "Spain", "ET": "Ethiopia",
    "FI": "Finland", "FJ": "Fiji", "FK": "Falkland Islands", "FO": "Faeroe Islands", "FR": "France",
    "GA": "Gabon", "GB": "United Kingdom", "GD": "Grenada", "GE": "Georgia", "GF": "French Guiana",
    "GG": "Guernsey", "GH": "Ghana", "GI": "Gibraltar", "GL": "Greenland", "GM": "Gambia", "GP": "Guadeloupe",
    "GR": "Greece", "GS": "South Georgia and South Sandwich Is.", "GT": "Guatemala", "GU": "Guam",
    "GY": "Guyana", "HK": "Hong Kong", "HN": "Honduras", "HR": "Croatia", "HT": "Haiti", "HU": "Hungary",
    "ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IM": "Isle of Man", "IN": "India", "IQ": "Iraq",
    "IR": "Iran", "IS": "Iceland", "IT": "Italy", "JE": "Jersey", "JM": "Jamaica", "JO": "Jordan",
    "JP": "Japan", "KE": "Kenya", "KG": "Kyrgyz Republic", "KH": "Cambodia", "KN": "St. Kitts and Nevis",
    "KP": "North Korea", "KR": "South Korea", "KW": "Kuwait", "KY": "Cayman Islands", "KZ": "Kazakhstan",
    "LA": "Laos", "LB": "Lebanon", "LC": "St. Lucia", "LI": "Liechtenstein", "LK": "Sri Lanka",
    "LR": "Liberia", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "LY": "Libya", "MA": "Morocco",
    "MC": "Monaco", "MD": "Moldova", "ME": "Montenegro", "MF": "Saint-Martin", "MG": "Madagascar",
    "MK": "Macedonia", "ML": "Mali", "MM": "Myanmar", "MN": "Mongolia", "MO": "Macau", "MQ": "Martinique",
    "MR": "Mauritania", "MT": "Malta", "MU": "Mauritius", "MV": "Maldives", "MW": "Malawi", "MX": "Mexico",
    "MY": "Malaysia", "MZ": "Mozambique", "NA": "Namibia", "NC": "New Caledonia", "NG": "Nigeria",
    "NI": "Nicaragua", "NL": "Netherlands", "NO": "Norway", "NP": "Nepal", "NZ": "New Zealand", "OM": "Oman",
    "PA": "Panama", "PE": "Peru", "PF": "French Polynesia", "PG": "Papua New Guinea", "PH": "Philippines",
    "PK": "Pakistan", "PL": "Poland", "PR": "Puerto Rico", "PS": "Palestine", "PT": "Portugal", "PW": "Palau",
    "PY": "Paraguay", "QA": "Qatar", "RE": "Reunion", "RO": "Romania", "RS": "Serbia", "RU": "Russia",
    "RW": "Rwanda", "SA": "Saudi Arabia", "SB": "Solomon Islands", "SC": "Seychelles", "SD": "Sudan",
    "SE": "Sweden", "SG": "Singapore", "SH": "St. Helena", "SI": "Slovenia",
    "SJ": "Svalbard and Jan Mayen Islands", "SK": "Slovakia", "SL": "Sierra Leone", "SM": "San Marino",
    "SN": "Senegal", "SO": "Somalia", "SS": "South Sudan", "SV": "El Salvador", "SX": "Sint Maarten",
    "SY": "Syria", "SZ": "Eswatini", "TG": "Togo", "TH": "Thailand", "TJ": "Tajikistan", "TL": "Timor-Leste",
    "TM": "Turkmenistan", "TN": "Tunisia", "TO": "Tonga", "TR": "Turkey", "TT": "Trinidad and Tobago",
    "TW": "Taiwan", "TZ": "Tanzania", "UA": "Ukraine", "UG": "Uganda", "US": "United States", "UY": "Uruguay",
    "UZ": "Uzbekistan", "VA": "Vatican", "VE": "Venezuela", "VG": "British Virgin Islands",
    "VI": "United States Virgin Islands", "VN": "Vietnam", "VU": "Vanuatu", "WS": "Samoa", "XK": "Kosovo",
    "YE": "Yemen", "ZA": "South Africa", "ZM": "Zambia", "ZW": "Zimbabwe",
}
TEMPLATES = (
    "a photo i took in {}.", "a photo i took while visiting {}.", "a photo from my home country of {}.",
    "a photo from my visit to {}.", "a photo showing the country of {}.",
)
FOLDERS = tuple(COUNTRIES)
CLASSES = tuple(COUNTRIES.values())


class Country211(ClassFolderDataset):
    name = "country211"
    classes = CLASSES
    templates = TEMPLATES
    folders = FOLDERS
    split_dirs = {"train": "train", "val": "valid", "test": "test"}
    train_split, adapt_split, eval_split = "train", "train", "test"
    dataset_dirs = ("country211",)
    expected_counts = {"train": 31650, "val": 10550, "test": 21100}
    downloads = {
        "official": [
            {"name": "country211.tgz", "into": "country211", "md5": "84988d7644798601126c29e9877aab6a",
             "urls": ["https://openaipublic.azureedge.net/clip/data/country211.tgz"]},
        ],
    }
    source_info = ("OpenAI's country211.tgz (https://openaipublic.azureedge.net/clip/data/country211.tgz, "
                   "see https://github.com/openai/CLIP/blob/main/data/country211.md): unpack it into <root>")


@hookimpl
def register_datasets(register):
    register(Country211)
