"""The data pools names.py draws from: names by family heritage, places, streets, schools.

The pools carry the spellings an MIS really holds: accents (Zoë, Siân, Seán), apostrophes
(O'Brien, D'Souza), spaces (Ó Briain, De Souza), hyphens, dotless i (Yılmaz) and Polish Ł.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Heritage:
    name: str
    weight: int
    boys: tuple[str, ...]
    girls: tuple[str, ...]
    surnames: tuple[str, ...]
    nationalities: tuple[str, ...]  # the non-British ones a family of it may hold


def _t(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


HERITAGES = (
    Heritage(
        "british",
        58,
        _t(
            "Oliver|George|Harry|Jack|Noah|Leo|Arthur|Oscar|Charlie|Jacob|Thomas|William|James|"
            "Henry|Alfie|Freddie|Theo|Archie|Joshua|Samuel|Alexander|Edward|Max|Isaac|Daniel|"
            "Joseph|Benjamin|Christopher|Nathaniel|Matthew|Reuben|Harvey|Louie|Ethan|Tyler|Kai|"
            "Riley|Mason|Jayden|Frederick"
        ),
        _t(
            "Olivia|Amelia|Isla|Ava|Lily|Freya|Ivy|Florence|Poppy|Isabella|Grace|Sophia|Evie|"
            "Ella|Emily|Charlotte|Elizabeth|Alexandra|Katherine|Jessica|Megan|Daisy|Matilda|"
            "Rosie|Phoebe|Harriet|Millie|Scarlett|Lily-Mae|Ruby|Zoë|Chloé|Renée|Evie-Rose|"
            "Hannah|Abigail|Eleanor|Margaret|Josephine"
        ),
        _t(
            "Smith|Jones|Taylor|Brown|Williams|Wilson|Johnson|Davies|Robinson|Wright|Thompson|"
            "Evans|Walker|White|Roberts|Green|Hall|Wood|Jackson|Clarke|Hughes|Edwards|Turner|"
            "Harrison|Cooper|Ward|Hill|Moore|Baker|Lee|Whitfield|Ashworth|Pickering|"
            "Fairbrother|Greenwood|Sutcliffe|Holroyd|Smith-Jones|Ward-Lewis"
        ),
        (),
    ),
    Heritage(
        "irish",
        6,
        _t("Seán|Ciarán|Oisín|Cian|Darragh|Conor|Pádraig|Eoin|Liam|Rory|Tadhg"),
        _t("Aoife|Niamh|Saoirse|Siobhán|Caoimhe|Róisín|Éabha|Orla|Clodagh|Sinéad"),
        _t(
            "O'Brien|O'Connor|O'Neill|O'Sullivan|Murphy|Kelly|Byrne|Ryan|Walsh|McCarthy|"
            "Ó Briain|Fitzgerald|Doyle|Mac Giolla Phádraig"
        ),
        ("Irish",),
    ),
    Heritage(
        "welsh",
        4,
        _t("Dafydd|Rhys|Gethin|Iwan|Osian|Emyr|Gruffydd|Tomos|Llŷr|Huw"),
        _t("Siân|Cerys|Bethan|Rhiannon|Angharad|Ffion|Gwenllian|Mali|Elin|Nia"),
        _t("Jones|Davies|Evans|Llewellyn|Pritchard|Griffiths|Morgan|Rees|Powell|Vaughan|Owen"),
        (),
    ),
    Heritage(
        "scottish",
        4,
        _t("Callum|Fraser|Hamish|Angus|Lachlan|Ruairidh|Euan|Finlay"),
        _t("Eilidh|Isla|Morag|Kirsty|Catriona|Mhairi|Ailsa"),
        _t("MacDonald|McLeod|MacKenzie|Campbell|Stewart|Robertson|Sinclair|Macintyre|McGregor"),
        (),
    ),
    Heritage(
        "south_asian",
        11,
        _t(
            "Mohammed|Muhammad|Ayaan|Arjun|Aarav|Rohan|Ibrahim|Yusuf|Zayn|Hamza|Rahul|Vikram|"
            "Omar|Ali|Abdul-Rahman"
        ),
        _t("Aisha|Fatima|Maryam|Zara|Priya|Ananya|Anaya|Simran|Khadija|Amira|Noor|Inaaya|Hafsa"),
        _t(
            "Patel|Khan|Ahmed|Hussain|Begum|Ali|Rahman|Singh|Kaur|Sharma|Chowdhury|Iqbal|"
            "Mahmood|Shah|Uddin|D'Souza|Fernandes|Gill|Sandhu"
        ),
        ("Indian", "Pakistani", "Bangladeshi"),
    ),
    Heritage(
        "eastern_european",
        5,
        _t("Jakub|Łukasz|Kacper|Szymon|Filip|Mateusz|Piotr|Andrei|Mihai|Ionuț"),
        _t("Zofia|Maja|Wiktoria|Zuzanna|Małgorzata|Julia|Ioana|Elena"),
        _t(
            "Nowak|Kowalski|Wiśniewski|Wójcik|Kowalczyk|Lewandowski|Zieliński|Popescu|"
            "Ionescu|Kamiński"
        ),
        ("Polish", "Romanian"),
    ),
    Heritage(
        "west_african",
        5,
        _t("Oluwaseun|Chinedu|Tobi|Emeka|Kwame|Kofi|Ayodele|Olumide|David|Daniel|Samuel"),
        _t("Oluwatoyin|Adaeze|Chiamaka|Ama|Abena|Folake|Precious|Blessing|Esther|Temitope"),
        _t("Adeyemi|Okafor|Okonkwo|Mensah|Boateng|Adebayo|Ogunleye|Asante|Owusu|Nwosu"),
        ("Nigerian", "Ghanaian"),
    ),
    Heritage(
        "east_asian",
        2,
        _t("Wei|Jun|Hao|Minh|Kenji|Ethan|Lucas"),
        _t("Mei|Xin|Yan|Linh|Hana|Chloe"),
        _t("Chen|Wang|Li|Zhang|Nguyen|Tran|Wong|Lam|Liu|Kim"),
        ("Chinese", "Vietnamese"),
    ),
    Heritage(
        "southern_european",
        3,
        _t("José|João|Tiago|Mateo|Luca|François|Théo|Nicolás|Álvaro|Matteo"),
        _t("Inês|Noémie|Chloé|Lucía|Sofía|Giulia|Beatriz|Maëlle|Zoë"),
        _t(
            "García|Rodríguez|Gonçalves|Silva|Pereira|Fernández|Rossi|Dubois|Lefèvre|Núñez|"
            "Müller|De Souza"
        ),
        ("Portuguese", "Spanish", "Italian", "French"),
    ),
    Heritage(
        "turkish_arabic",
        2,
        _t("Emir|Yusuf|Mehmet|Ahmet|Omar|Karim|Hassan|Kerem"),
        _t("Elif|Zeynep|Ayşe|Leyla|Yasmin|Nour|Layla|Selin"),
        _t("Yılmaz|Öztürk|Çelik|Şahin|Demir|Kaya|Haddad|Mansour|Abdullah|El-Amin"),
        ("Turkish", "Syrian", "Iraqi"),
    ),
)
HERITAGE_WEIGHTS = [h.weight for h in HERITAGES]

UNISEX = _t("Alex|Sam|Charlie|Jamie|Robin|Riley|Ash|Frankie|Jordan|Morgan|Sasha")
# British-heritage parents and grandparents carry their own generation's names.
ADULT_MEN = _t(
    "David|Paul|Mark|Andrew|Richard|Stephen|Darren|Lee|Craig|Gareth|Neil|Simon|"
    "Matthew|Jonathan|Ben|Tom|Dean|Wayne|Jason|Stuart"
)
ADULT_WOMEN = _t(
    "Sarah|Emma|Claire|Rebecca|Laura|Nicola|Kelly|Gemma|Helen|Lisa|Joanne|Rachel|"
    "Victoria|Hayley|Jennifer|Amy|Natalie|Kirsty|Stacey|Charlotte"
)
ELDER_MEN = _t("Brian|Keith|Graham|Barry|Terry|Alan|Colin|Derek|Trevor")
ELDER_WOMEN = _t("Susan|Linda|Carol|Janet|Pauline|Margaret|Christine|Jean|Brenda")

NICKNAMES = {
    "Alexander": ("Alex", "Xander"),
    "Alexandra": ("Sasha", "Alex"),
    "Oliver": ("Ollie",),
    "William": ("Will", "Billy"),
    "Thomas": ("Tom", "Tommy"),
    "James": ("Jamie",),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Joshua": ("Josh",),
    "Matthew": ("Matt",),
    "Christopher": ("Chris",),
    "Nathaniel": ("Nate", "Nat"),
    "Daniel": ("Dan", "Danny"),
    "Edward": ("Ted", "Eddie"),
    "Frederick": ("Freddie", "Fred"),
    "Elizabeth": ("Beth", "Lizzie"),
    "Katherine": ("Kate", "Katie"),
    "Jessica": ("Jess",),
    "Josephine": ("Josie",),
    "Margaret": ("Maggie", "Peggy"),
    "Abigail": ("Abbie",),
    "Eleanor": ("Ellie", "Nell"),
    "Isabella": ("Bella", "Izzy"),
    "Florence": ("Flo",),
    "Matilda": ("Tilly",),
    "Harriet": ("Hattie",),
    "Oluwaseun": ("Seun",),
    "Oluwatoyin": ("Toyin",),
    "Mohammed": ("Mo",),
    "Muhammad": ("Mo",),
    "Temitope": ("Tope",),
    "Małgorzata": ("Gosia",),
    "Zuzanna": ("Zuzia",),
    "Siobhán": ("Shiv",),
    "Ayodele": ("Ayo",),
    "Catriona": ("Cat",),
    "Gwenllian": ("Gwen",),
    "Abdul-Rahman": ("Abdul",),
    "Gruffydd": ("Gruff",),
    "Jonathan": ("Jon",),
    "Jennifer": ("Jenny",),
    "Rebecca": ("Becky",),
    "Stephen": ("Steve",),
}
# Real MIS data holds a name longer than any form field now and then (the last is a real one).
LONG_SURNAMES = _t(
    "Featherstonehaugh-Cholmondeley-Wolstenholme|Montgomery-Fotheringham-Ashby|"
    "Wolfeschlegelsteinhausenbergerdorff|Fiennes-Twisleton-Wykeham-Fiennes"
)
LONG_MIDDLES = _t(
    "Maximilian Alexander Benedict Christopher|Oluwadamilare Oluwaseun Ayomide|"
    "Anne-Marie Elizabeth Victoria Rose"
)


@dataclass(frozen=True)
class Town:
    name: str
    la_code: int
    area: str  # postcode area
    districts: tuple[int, ...]
    landline: str  # Ofcom drama prefix; three more digits complete it


TOWNS = (
    Town("Leeds", 383, "LS", tuple(range(1, 30)), "0113 496 0"),
    Town("Bristol", 801, "BS", tuple(range(1, 17)), "0117 496 0"),
    Town("Manchester", 352, "M", tuple(range(1, 41)), "0161 496 0"),
    Town("Birmingham", 330, "B", tuple(range(1, 46)), "0121 496 0"),
    Town("Sheffield", 373, "S", tuple(range(1, 21)), "0114 496 0"),
    Town("Nottingham", 892, "NG", tuple(range(1, 17)), "0115 496 0"),
    Town("Leicester", 856, "LE", tuple(range(1, 10)), "0116 496 0"),
    Town("Reading", 870, "RG", (1, 2, 4, 5, 6, 30, 31), "0118 496 0"),
    Town("Newcastle upon Tyne", 391, "NE", tuple(range(1, 16)), "0191 498 0"),
    Town("Liverpool", 341, "L", tuple(range(1, 26)), "0151 496 0"),
    Town("London", 211, "E", (1, 2, 3, 14), "020 7946 0"),
    Town("Cardiff", 681, "CF", (3, 5, 10, 11, 14, 23, 24), "029 2018 0"),
    Town("Norwich", 926, "NR", tuple(range(1, 8)), "01632 960"),
    Town("York", 816, "YO", (1, 10, 23, 24, 26, 30, 31, 32), "01632 960"),
    Town("Exeter", 878, "EX", (1, 2, 4), "01632 960"),
)

STREET_NAMES = _t(
    "Church|Mill|Station|Victoria|Park|Queen's|King's|St Mary's|Oak|Beech|Elm|"
    "Willow|Chapel|Manor|Meadow|Orchard|Springfield|Windsor|Albert|York|Grange|"
    "Moor|Cliff|Wharf|Heathcote|Brunswick|Hollins|Bishop's|Lark|Thornton"
)
STREET_KINDS = _t(
    "Road|Street|Lane|Avenue|Close|Drive|Way|Crescent|Grove|Terrace|Gardens|Court|Mews|View|Rise"
)
HOUSE_NAMES = _t("Rose Cottage|The Old Vicarage|Ty Gwyn|Orchard House|The Barn|1 The Coach House")
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters Royal Mail uses after the digit

PLACES = _t(
    "Meadowbank|Hillside|Riverside|Beechwood|Westfield|Brookside|Elmhurst|Ashgrove|"
    "Kingsmead|Fairfield|Highfield|Parkside|Moorlands|Thornbury|Woodlands|Greenacres|"
    "Lark Rise|Hollybank|Millbrook|Southgate|Northcliffe|Foxhill|Bramley|Copperfield"
)
SAINTS = _t("Mary|Bede|Peter|John|Michael|Anne|Patrick|Chad|Aidan|Hilda|Oswald|Cuthbert")
