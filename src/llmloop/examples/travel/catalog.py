"""The travel agency's destination catalog: 70 places with the attributes the ground truth reasons over.

Every description and review was written for llmloop; the place names are real, the agency is not.
The closed vocabularies below are the only values a preference or a destination may take, so the
rule-based ground truth (``rules.py``) never has to guess what a word means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from llmloop.errors import NotFound

Climate = Literal["tropical", "temperate", "arid", "alpine", "mediterranean", "cold"]
Budget = Literal["budget", "mid", "luxury"]
Activity = Literal[
    "beach", "hiking", "museums", "nightlife", "skiing", "food", "wildlife", "diving", "history", "shopping"
]
Region = Literal["Europe", "Asia", "Middle East", "Africa", "North America", "South America", "Oceania"]
Party = Literal["solo", "couple", "family", "friends"]

CLIMATES: tuple[Climate, ...] = get_args(Climate)
BUDGETS: tuple[Budget, ...] = get_args(Budget)
ACTIVITIES: tuple[Activity, ...] = get_args(Activity)
REGIONS: tuple[Region, ...] = get_args(Region)
PARTIES: tuple[Party, ...] = get_args(Party)
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
BUDGET_LABELS: dict[Budget, str] = {"budget": "budget", "mid": "mid-range", "luxury": "luxury"}


@dataclass(frozen=True)
class Review:
    stars: int
    text: str


@dataclass(frozen=True)
class Destination:
    """One catalog entry; ``best_months`` are 1-12, the months the agency would send someone there."""

    name: str
    country: str
    region: Region
    climate: Climate
    budget: Budget
    activities: tuple[Activity, ...]
    best_months: tuple[int, ...]
    suits: tuple[Party, ...]
    description: str
    reviews: tuple[Review, ...]

    @property
    def rating(self) -> float:
        """Mean review stars: the last tie-break of the ranking rule."""
        return sum(r.stars for r in self.reviews) / len(self.reviews)


def _d(
    name: str,
    country: str,
    region: Region,
    climate: Climate,
    budget: Budget,
    activities: str,
    months: str,
    suits: str,
    description: str,
    *reviews: str,
) -> Destination:
    """Compact constructor: space-separated activities/months/parties, reviews as ``"STARS|text"``."""
    month_index = {m[:3]: i + 1 for i, m in enumerate(MONTHS)}
    return Destination(
        name=name,
        country=country,
        region=region,
        climate=climate,
        budget=budget,
        activities=tuple(a for a in ACTIVITIES if a in activities.split()),
        best_months=tuple(sorted(month_index[m] for m in months.split())),
        suits=tuple(p for p in PARTIES if p in suits.split()),
        description=description,
        reviews=tuple(Review(int(r.split("|", 1)[0]), r.split("|", 1)[1]) for r in reviews),
    )


# fmt: off
DESTINATIONS: tuple[Destination, ...] = (
    # Europe
    _d("Zermatt", "Switzerland", "Europe", "alpine", "luxury", "skiing hiking food", "Jan Feb Mar Jul Aug", "couple friends",
       "A car-free village under the Matterhorn with long pistes in winter and high trails in summer.",
       "5|The lift up to the glacier was worth every franc.", "4|Stunning, but a fondue dinner costs a small fortune."),
    _d("Bansko", "Bulgaria", "Europe", "alpine", "budget", "skiing hiking nightlife", "Jan Feb Mar", "solo friends",
       "A cheerful ski town in the Pirin mountains where lift passes and dinners stay cheap.",
       "4|Great value week of skiing, queues at the gondola in the morning.", "4|Lively bars after the slopes close."),
    _d("Chamonix", "France", "Europe", "alpine", "mid", "skiing hiking food", "Jan Feb Mar Jul Aug", "solo couple friends",
       "The old mountaineering capital below Mont Blanc, steep skiing and famous summer hikes.",
       "5|Hiked to Lac Blanc at sunrise, unforgettable.", "4|Off-piste is serious here, hire a guide."),
    _d("Verbier", "Switzerland", "Europe", "alpine", "luxury", "skiing nightlife food", "Jan Feb Mar Dec", "couple friends",
       "A glossy resort on a sunny balcony with a huge linked ski area and late-night apres-ski.",
       "5|The Mont Fort run is the best descent I have done.", "3|Fun, but chalets are priced for bankers."),
    _d("Innsbruck", "Austria", "Europe", "alpine", "mid", "skiing hiking history", "Jan Feb Jul Aug", "solo couple family",
       "A small imperial city with cable cars that go from the old town straight to the peaks.",
       "5|Museum in the morning, snow in the afternoon.", "4|Good base for families, easy trams."),
    _d("Lisbon", "Portugal", "Europe", "mediterranean", "mid", "food history nightlife museums", "Apr May Jun Sep Oct", "solo couple friends",
       "Hilly streets, tiled facades and custard tarts, with the Atlantic a tram ride away.",
       "5|Every viewpoint comes with a cafe.", "4|Wear good shoes, the hills are no joke.", "4|Bairro Alto is loud till 3 am."),
    _d("Seville", "Spain", "Europe", "mediterranean", "mid", "history food nightlife", "Mar Apr May Oct Nov", "couple friends",
       "Orange trees, flamenco and a cathedral so large it has its own weather.",
       "5|The Alcazar gardens in April smelled of blossom.", "3|Went in August and it was unbearably hot."),
    _d("Santorini", "Greece", "Europe", "mediterranean", "luxury", "beach food history", "May Jun Sep Oct", "couple",
       "White villages on a volcanic cliff above the caldera, famous for sunsets and quiet luxury.",
       "5|Our honeymoon suite had a plunge pool over the sea.", "3|Oia at sunset is packed shoulder to shoulder."),
    _d("Dubrovnik", "Croatia", "Europe", "mediterranean", "mid", "history beach food", "May Jun Sep", "couple family",
       "A walled old town of pale stone, with swimming rocks just outside the gates.",
       "4|Walk the walls early before the cruise crowds.", "4|Kayaking to Lokrum island was the highlight."),
    _d("Amalfi", "Italy", "Europe", "mediterranean", "luxury", "beach food hiking", "May Jun Sep", "couple",
       "Lemon terraces and pastel towns stacked above a deep blue coast.",
       "5|The Path of the Gods hike is well named.", "4|Lovely, but the coast road made me seasick."),
    _d("Palma", "Spain", "Europe", "mediterranean", "mid", "beach nightlife hiking", "May Jun Jul Sep", "family friends",
       "Mallorca's capital, a Gothic cathedral by the harbour and coves an hour away.",
       "4|Easy family beach holiday, good food everywhere.", "4|The Tramuntana mountains surprised us."),
    _d("Valletta", "Malta", "Europe", "mediterranean", "mid", "history diving beach", "Apr May Jun Sep Oct", "solo couple",
       "A fortified baroque capital on a peninsula, with clear water and wreck dives nearby.",
       "5|Dived two wrecks in one morning.", "4|Tiny city, you can see it all in two days."),
    _d("Florence", "Italy", "Europe", "temperate", "mid", "museums history food shopping", "Apr May Sep Oct", "solo couple",
       "The cradle of the Renaissance, with galleries, leather markets and Tuscan cooking.",
       "5|Booked the Uffizi ahead and skipped a two-hour queue.", "4|Too many tourists, but the food made up for it."),
    _d("Paris", "France", "Europe", "temperate", "luxury", "museums food shopping history", "Apr May Jun Sep Oct", "couple solo",
       "Boulevards, bistros and some of the world's great museums, best explored on foot.",
       "5|The Orsay was quieter than the Louvre and just as good.", "4|Expensive hotels, tiny rooms."),
    _d("Edinburgh", "United Kingdom", "Europe", "temperate", "mid", "history museums hiking", "May Jun Jul Aug", "solo family",
       "A castle on a volcanic rock, a medieval old town and a hill to climb in the middle of the city.",
       "5|Climbed Arthur's Seat before breakfast.", "3|Four seasons in one day, pack a raincoat."),
    _d("Berlin", "Germany", "Europe", "temperate", "mid", "nightlife museums history", "May Jun Jul Aug Sep", "solo friends",
       "A city that wears its history openly, with museums by day and clubs until the next afternoon.",
       "5|Museum Island alone needs three days.", "4|The club door policy is a lottery."),
    _d("Krakow", "Poland", "Europe", "temperate", "budget", "history food nightlife", "May Jun Sep", "solo friends",
       "A beautifully kept medieval centre, cellar bars and hearty food at friendly prices.",
       "5|Pierogi for lunch every day and no regrets.", "4|The main square is magical at night."),
    _d("Budapest", "Hungary", "Europe", "temperate", "budget", "history nightlife food museums", "Apr May Sep Oct", "solo couple friends",
       "Two cities across the Danube, thermal baths and ruin bars in old courtyards.",
       "5|The baths on a cold evening are pure joy.", "4|Ruin bars get crowded on weekends."),
    _d("Istanbul", "Turkey", "Europe", "temperate", "mid", "history food shopping museums", "Apr May Sep Oct", "solo couple family",
       "Domes and minarets on two continents, spice markets and ferries across the Bosphorus.",
       "5|The Grand Bazaar is overwhelming in the best way.", "4|Bargain hard, then have tea."),
    _d("Tbilisi", "Georgia", "Europe", "temperate", "budget", "food history hiking", "May Jun Sep Oct", "solo friends",
       "Balconied old streets, sulphur baths and a cuisine of cheese bread and dumplings.",
       "5|Georgian hospitality is no myth.", "4|Day trip to the mountains was superb."),
    _d("Tromso", "Norway", "Europe", "cold", "luxury", "wildlife hiking skiing", "Jan Feb Mar Nov Dec", "couple friends",
       "An Arctic city for northern lights, whale watching and ski touring in the polar night.",
       "5|Saw the aurora three nights out of four.", "3|Beautiful, but a beer costs twelve euros."),
    _d("Reykjavik", "Iceland", "Europe", "cold", "luxury", "hiking wildlife nightlife", "Jun Jul Aug", "solo couple friends",
       "A small colourful capital and gateway to glaciers, geysers and puffin cliffs.",
       "5|Midnight sun hikes felt unreal.", "4|Rent a car, tours add up fast."),
    _d("Rovaniemi", "Finland", "Europe", "cold", "mid", "skiing wildlife", "Jan Feb Mar Dec", "family couple",
       "A Lapland town on the Arctic Circle with husky rides, reindeer farms and snowy forests.",
       "5|The kids still talk about the husky sled.", "4|Minus 25 degrees, dress properly."),
    # Asia
    _d("Bali", "Indonesia", "Asia", "tropical", "mid", "beach diving food hiking", "May Jun Jul Aug Sep", "couple friends solo",
       "Rice terraces, temples and surf beaches on an island that suits almost every style.",
       "5|Snorkelled with turtles off Amed.", "4|Traffic in the south is slow, stay in two places."),
    _d("Chiang Mai", "Thailand", "Asia", "tropical", "budget", "food hiking history", "Nov Dec Jan Feb", "solo couple",
       "A relaxed northern city of temples and night markets, with jungle treks in the hills.",
       "5|Khao soi at a roadside stall, best meal of the trip.", "4|Smoky air in March, go earlier."),
    _d("Phuket", "Thailand", "Asia", "tropical", "mid", "beach diving nightlife", "Nov Dec Jan Feb Mar", "family friends couple",
       "Thailand's biggest island, long sandy bays and boat trips to limestone islets.",
       "4|Kata beach was calm and good for kids.", "3|Patong is loud, stay elsewhere."),
    _d("Hanoi", "Vietnam", "Asia", "tropical", "budget", "food history shopping", "Mar Apr Oct Nov", "solo friends",
       "Motorbikes, lakes and street kitchens in a thousand-year-old capital.",
       "5|Street food tour was the best ten dollars I spent.", "4|Crossing the road is an adventure."),
    _d("Kyoto", "Japan", "Asia", "temperate", "luxury", "history food museums", "Mar Apr Oct Nov", "couple solo",
       "Temples, gardens and wooden tea houses in Japan's former imperial capital.",
       "5|Autumn leaves at the temples took my breath away.", "4|Get up early, the famous shrines fill by nine."),
    _d("Tokyo", "Japan", "Asia", "temperate", "luxury", "food shopping nightlife museums", "Mar Apr May Oct Nov", "solo couple friends family",
       "An enormous, orderly city where every district feels like another town.",
       "5|Ate in a tiny bar that seated eight, incredible.", "5|Trains always on time."),
    _d("Niseko", "Japan", "Asia", "cold", "mid", "skiing food", "Jan Feb Dec", "friends family",
       "Hokkaido powder snow almost every day of winter, and hot springs after skiing.",
       "5|Deepest powder I have ever skied.", "4|Book restaurants in advance in peak season."),
    _d("Seoul", "South Korea", "Asia", "temperate", "mid", "food shopping nightlife history", "Apr May Sep Oct", "solo friends",
       "Palaces next to glass towers, barbecue alleys and markets open all night.",
       "5|Korean barbecue every evening, no complaints.", "4|Shopping in Myeongdong is endless."),
    _d("Pokhara", "Nepal", "Asia", "alpine", "budget", "hiking wildlife", "Mar Apr Oct Nov", "solo friends",
       "A lakeside town below the Annapurna range, the starting point of famous treks.",
       "5|The Poon Hill sunrise was worth the climb.", "4|Simple lodges, big views."),
    _d("Baa Atoll", "Maldives", "Asia", "tropical", "luxury", "diving beach wildlife", "Jan Feb Mar Apr Dec", "couple",
       "A biosphere reserve of coral islands where manta rays gather and villas sit over the water.",
       "5|Swam with thirty mantas in Hanifaru Bay.", "5|Worth saving for years."),
    _d("Goa", "India", "Asia", "tropical", "budget", "beach nightlife food", "Nov Dec Jan Feb", "friends solo",
       "Palm-lined beaches, Portuguese churches and beach shacks serving fish curry.",
       "4|Cheap, sunny and relaxed.", "3|Some beaches are crowded at new year."),
    _d("Jaipur", "India", "Asia", "arid", "budget", "history shopping food", "Oct Nov Dec Jan Feb", "couple family solo",
       "The pink city of palaces, forts and bazaars at the edge of the Rajasthan desert.",
       "5|Amber Fort at opening time was empty and glorious.", "4|Haggling for textiles is half the fun."),
    _d("Singapore", "Singapore", "Asia", "tropical", "luxury", "food shopping museums nightlife", "Feb Mar Apr Jul Aug", "family couple solo",
       "A spotless city-state of hawker centres, gardens and rooftop bars.",
       "5|Hawker food is cheap even if the hotels are not.", "4|Humid all year, plan indoor afternoons."),
    _d("Luang Prabang", "Laos", "Asia", "tropical", "budget", "history hiking food", "Nov Dec Jan Feb", "solo couple",
       "A sleepy riverside town of monasteries, waterfalls and morning markets.",
       "5|Kuang Si falls are the bluest water I have seen.", "4|Very quiet at night, which we loved."),
    _d("El Nido", "Philippines", "Asia", "tropical", "mid", "diving beach hiking", "Jan Feb Mar Apr", "couple friends",
       "Limestone cliffs and lagoons in northern Palawan, best seen by island-hopping boat.",
       "5|Tour A and Tour C both worth it.", "3|Power cuts in the evening."),
    _d("Siem Reap", "Cambodia", "Asia", "tropical", "budget", "history food shopping", "Nov Dec Jan Feb", "solo couple family",
       "The town next to Angkor's temples, with night markets and cooking schools.",
       "5|Sunrise at Angkor Wat, then Ta Prohm by bicycle.", "4|Three-day pass is the right length."),
    # Middle East
    _d("Dubai", "United Arab Emirates", "Middle East", "arid", "luxury", "shopping beach nightlife", "Nov Dec Jan Feb Mar", "family couple friends",
       "Towers, malls and desert dunes on the Gulf, built for big spending in winter sun.",
       "5|The desert safari at dusk was the best part.", "3|Very artificial, but the kids loved it."),
    _d("Petra", "Jordan", "Middle East", "arid", "mid", "history hiking", "Mar Apr Oct Nov", "solo couple friends",
       "The rose-red city carved into sandstone canyons by the Nabataeans.",
       "5|Walk up to the Monastery, few people make it.", "4|Two days are better than one."),
    _d("Aqaba", "Jordan", "Middle East", "arid", "budget", "diving beach", "Mar Apr Oct Nov", "solo friends",
       "Jordan's Red Sea port, with coral reefs a few steps from the shore.",
       "4|Reef diving from the beach, no boat needed.", "4|Good stop after Petra."),
    _d("Muscat", "Oman", "Middle East", "arid", "mid", "diving beach history", "Nov Dec Jan Feb", "family couple",
       "A low white city between mountains and sea, with forts, souqs and calm beaches.",
       "5|Dolphin trip in the morning was magical.", "4|Quiet and very safe for families."),
    # Africa
    _d("Marrakech", "Morocco", "Africa", "arid", "budget", "shopping food history", "Mar Apr Oct Nov", "couple friends solo",
       "Souqs, riads and the roar of Jemaa el-Fnaa square at dusk.",
       "5|Stayed in a riad with a courtyard pool, pure calm.", "3|The medina maze is exhausting."),
    _d("Cape Town", "South Africa", "Africa", "mediterranean", "mid", "hiking food wildlife beach", "Nov Dec Jan Feb Mar", "couple friends family",
       "Table Mountain above the city, penguins on the beach and vineyards an hour away.",
       "5|Hiked Lion's Head for sunset.", "5|Boulders beach penguins delighted everyone."),
    _d("Zanzibar", "Tanzania", "Africa", "tropical", "mid", "beach diving history", "Jan Feb Jun Jul Aug", "couple friends",
       "Spice-island beaches of white sand and the carved doors of Stone Town.",
       "5|Stone Town spice tour smelled like heaven.", "4|Tides go far out on the east coast."),
    _d("Serengeti", "Tanzania", "Africa", "tropical", "luxury", "wildlife hiking", "Jan Feb Jun Jul Aug", "couple family",
       "Endless plains where the great migration passes, explored from tented camps.",
       "5|Saw a river crossing, thousands of wildebeest.", "4|Long dusty drives, bring a scarf."),
    _d("Masai Mara", "Kenya", "Africa", "tropical", "luxury", "wildlife hiking", "Jul Aug Sep Oct", "couple family",
       "Open savanna with big cats, balloon flights at dawn and Maasai villages.",
       "5|Cheetah hunt right in front of our jeep.", "4|Balloon flight was pricey but unforgettable."),
    _d("Victoria Falls", "Zambia", "Africa", "tropical", "mid", "wildlife hiking", "May Jun Jul Aug", "friends couple",
       "The thundering falls on the Zambezi, with rafting, walks and river safaris.",
       "5|Soaked by the spray and grinning.", "4|Cross to the Zimbabwe side too."),
    _d("Cairo", "Egypt", "Africa", "arid", "budget", "history museums shopping", "Oct Nov Dec Jan Feb", "solo family friends",
       "The pyramids of Giza, a vast museum of pharaohs and the bustle of Khan el-Khalili.",
       "5|Standing next to the Great Pyramid is humbling.", "3|Traffic and touts test your patience."),
    _d("Swakopmund", "Namibia", "Africa", "arid", "mid", "wildlife hiking", "May Jun Jul Aug Sep", "friends family",
       "A German-era seaside town where the desert dunes meet the cold Atlantic.",
       "5|Sandboarding and a seal colony in one day.", "4|Foggy mornings, sunny afternoons."),
    # North America
    _d("Aspen", "United States", "North America", "alpine", "luxury", "skiing hiking shopping", "Jan Feb Dec Jul", "couple friends",
       "A Colorado mountain town of four ski mountains, art galleries and designer boutiques.",
       "5|Perfect corduroy every morning.", "3|A sandwich cost thirty dollars."),
    _d("Whistler", "Canada", "North America", "alpine", "mid", "skiing hiking nightlife", "Jan Feb Mar Dec Jul", "friends family",
       "One of the largest ski areas on the continent, with a lively village at its foot.",
       "5|Peak 2 Peak gondola view is wild.", "4|Rainy lower slopes some days."),
    _d("Banff", "Canada", "North America", "alpine", "mid", "hiking wildlife skiing", "Jan Feb Jun Jul Aug", "family couple",
       "Turquoise lakes, elk in the streets and the Rockies all around.",
       "5|Lake Louise canoe at 7 am.", "4|Saw a grizzly from the car, kept our distance."),
    _d("New Orleans", "United States", "North America", "temperate", "mid", "food nightlife history", "Mar Apr Oct Nov", "friends couple",
       "Brass bands, Creole cooking and iron balconies in the French Quarter.",
       "5|Live jazz on Frenchmen Street every night.", "4|Humid, eat beignets anyway."),
    _d("Tulum", "Mexico", "North America", "tropical", "mid", "beach diving history", "Dec Jan Feb Mar Apr", "couple friends",
       "Mayan ruins on a cliff above a Caribbean beach, with cenotes for freshwater diving.",
       "5|Cenote diving was otherworldly.", "3|Seaweed on the beach in some months."),
    _d("Oaxaca", "Mexico", "North America", "temperate", "budget", "food history shopping", "Oct Nov Dec Jan Feb", "solo couple",
       "Colonial streets, seven kinds of mole and craft villages in the surrounding valleys.",
       "5|Cooking class with a local family, the best day.", "4|Bring cash for the markets."),
    _d("Havana", "Cuba", "North America", "tropical", "budget", "history nightlife beach", "Dec Jan Feb Mar Apr", "solo friends couple",
       "Old cars, crumbling mansions and salsa spilling out of every doorway.",
       "5|Danced salsa until 2 am.", "3|Hard to get cash and internet."),
    # South America
    _d("Cusco", "Peru", "South America", "alpine", "budget", "hiking history food", "May Jun Jul Aug Sep", "solo friends couple",
       "The old Inca capital at 3,400 metres and the start of the trail to Machu Picchu.",
       "5|The Inca Trail was the trip of a lifetime.", "4|Take the altitude seriously for a day or two."),
    _d("Buenos Aires", "Argentina", "South America", "temperate", "mid", "food nightlife museums", "Mar Apr May Oct Nov", "solo couple friends",
       "Grand avenues, tango halls and steak dinners that start at ten at night.",
       "5|A milonga on Sunday night, locals danced till dawn.", "4|Dinner before nine is for tourists."),
    _d("Rio de Janeiro", "Brazil", "South America", "tropical", "mid", "beach nightlife hiking", "Dec Jan Feb Mar", "friends couple",
       "Beaches between granite peaks, samba in Lapa and a statue watching over it all.",
       "5|Sunrise from Sugarloaf, then Ipanema.", "3|Keep your phone out of sight."),
    _d("Galapagos", "Ecuador", "South America", "tropical", "luxury", "wildlife diving hiking", "Dec Jan Feb Mar Apr", "family couple",
       "Volcanic islands where sea lions, tortoises and iguanas have no fear of people.",
       "5|Snorkelled with a sea lion pup.", "5|Expensive, and worth every cent."),
    _d("Cartagena", "Colombia", "South America", "tropical", "mid", "beach history nightlife food", "Dec Jan Feb Mar", "couple friends",
       "A walled Caribbean city of bougainvillea balconies and rooftop bars.",
       "5|Sunset on the city walls.", "4|Hot and sticky at noon."),
    _d("El Chalten", "Argentina", "South America", "cold", "mid", "hiking wildlife", "Nov Dec Jan Feb Mar", "solo friends",
       "A trekking village in Patagonia at the foot of the jagged Fitz Roy massif.",
       "5|Laguna de los Tres at dawn.", "4|Wind strong enough to knock you over."),
    # Oceania
    _d("Queenstown", "New Zealand", "Oceania", "alpine", "mid", "skiing hiking nightlife", "Jun Jul Aug Dec Jan", "friends couple solo",
       "A lakeside adventure capital with ski fields in winter and trails all summer.",
       "5|Skiing in July felt wonderfully wrong.", "4|Queues for the famous burger shop."),
    _d("Cairns", "Australia", "Oceania", "tropical", "mid", "diving beach wildlife", "Jun Jul Aug Sep Oct", "family friends couple",
       "The launch pad for the Great Barrier Reef and the Daintree rainforest.",
       "5|Outer reef dive, visibility thirty metres.", "4|Stinger season from November, swim in the lagoon."),
    _d("Sydney", "Australia", "Oceania", "temperate", "luxury", "beach food nightlife museums", "Nov Dec Jan Feb Mar", "family couple friends solo",
       "A harbour city of ferries, surf beaches and an opera house under white sails.",
       "5|Bondi to Coogee coastal walk is a must.", "4|Pricey, but the ferries are a bargain."),
    _d("Bora Bora", "French Polynesia", "Oceania", "tropical", "luxury", "beach diving", "May Jun Jul Aug Sep", "couple",
       "A lagoon of impossible blues around a green volcanic peak, the classic overwater villa trip.",
       "5|Fed reef sharks from the boat, thrilling.", "4|There is little to do but relax, which is the point."),
    _d("Nadi", "Fiji", "Oceania", "tropical", "mid", "beach diving", "May Jun Jul Aug Sep", "family couple",
       "Fiji's gateway town, a short boat ride from coral islands and family-run resorts.",
       "5|Bula! Everyone greeted us by name after a day.", "4|Resort food is pricey, try the town markets."),
    _d("Hobart", "Australia", "Oceania", "temperate", "mid", "food hiking museums wildlife", "Dec Jan Feb Mar", "couple solo",
       "Tasmania's harbour capital, with a daring art museum and wild coastal walks.",
       "5|MONA is the strangest, best museum I know.", "4|Saw wombats on the walk up the mountain."),
)
# fmt: on


BY_NAME: dict[str, Destination] = {d.name: d for d in DESTINATIONS}


def get_destination(name: str) -> Destination:
    """The catalog entry called ``name`` (exact, as written in the catalog)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise NotFound(f"destination {name!r} is not in the travel catalog", details={"name": name}) from None
