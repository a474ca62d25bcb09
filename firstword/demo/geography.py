"""Static facts the synthetic retailer is built from: cities with their regions, time zones,
postcode shapes and store counts; fictional telephone ranges; street-name parts.

Telephone numbers only come from ranges that regulators keep free for fiction, so no number
the demo prints or "notifies" can reach a real person:
- UK: Ofcom's drama ranges, mobile 07700 900000-900999 and London 020 7946 0000-0999.
- Germany: the Bundesnetzagentur's "Drama Numbers" (Amtsblatt 7/2021, Mitteilung 148/2021),
  1,000 numbers each in Berlin, Hamburg, Frankfurt am Main, Köln and München.
- US: 555-0100 to 555-0199, reserved for fictional use in every area code.
These ranges are small, so customers share numbers: phone is not a unique key.
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 2606 / RFC 6761: reserved for documentation; never deliverable on the internet.
EMAIL_DOMAINS = (
    "example.com",
    "example.org",
    "example.net",
    "mail.example",
    "post.example",
    "inbox.example",
)

COUNTRIES = ("GB", "DE", "US")
LOCALE = {"GB": "en_GB", "DE": "de_DE", "US": "en_US"}
CURRENCY = {"GB": "GBP", "DE": "EUR", "US": "USD"}
CUSTOMER_SHARE = {"GB": 0.42, "DE": 0.26, "US": 0.32}


@dataclass(frozen=True)
class City:
    country: str
    name: str
    code: str  # three letters, used in store ids
    region: str  # UK nation, German Land, or US state (USPS code)
    timezone: str
    weight: float  # relative share of the country's customers (roughly population)
    stores: int
    latitude: float
    longitude: float
    # UK: postcode areas; DE/US: inclusive numeric range of postcodes / ZIP codes
    postcode_areas: tuple[str, ...] = ()
    postcode_range: tuple[int, int] = (0, 0)
    area_code: str = ""  # US only: for 555-01xx numbers


UK, DE = "Europe/London", "Europe/Berlin"
NY, CHI, DEN, PHX, LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
)

# name, code, region, time zone, weight, stores, latitude, longitude, postcodes
# (UK: postcode areas; DE/US: an inclusive range), US telephone area code
_Row = tuple[str, str, str, str, float, int, float, float, str, str]
_ROWS: dict[str, list[_Row]] = {
    "GB": [
        ("London", "LON", "England", UK, 9.0, 6, 51.507, -0.128, "E N NW SE SW W", ""),
        ("Birmingham", "BHM", "England", UK, 1.15, 2, 52.486, -1.890, "B", ""),
        ("Manchester", "MAN", "England", UK, 1.1, 2, 53.481, -2.243, "M", ""),
        ("Leeds", "LDS", "England", UK, 0.8, 2, 53.801, -1.549, "LS", ""),
        ("Glasgow", "GLA", "Scotland", UK, 0.63, 2, 55.864, -4.252, "G", ""),
        ("Edinburgh", "EDI", "Scotland", UK, 0.52, 1, 55.953, -3.189, "EH", ""),
        ("Liverpool", "LIV", "England", UK, 0.5, 1, 53.408, -2.991, "L", ""),
        ("Bristol", "BRS", "England", UK, 0.47, 1, 51.455, -2.588, "BS", ""),
        ("Sheffield", "SHF", "England", UK, 0.56, 1, 53.381, -1.470, "S", ""),
        ("Newcastle upon Tyne", "NCL", "England", UK, 0.3, 1, 54.978, -1.618, "NE", ""),
        ("Nottingham", "NTG", "England", UK, 0.33, 1, 52.954, -1.158, "NG", ""),
        ("Cardiff", "CDF", "Wales", UK, 0.36, 1, 51.482, -3.179, "CF", ""),
        ("Belfast", "BFS", "Northern Ireland", UK, 0.34, 1, 54.597, -5.930, "BT", ""),
        ("Southampton", "SOU", "England", UK, 0.25, 1, 50.910, -1.404, "SO", ""),
    ],
    "DE": [
        ("Berlin", "BER", "Berlin", DE, 3.7, 4, 52.520, 13.405, "10115-14199", ""),
        ("Hamburg", "HAM", "Hamburg", DE, 1.9, 2, 53.551, 9.994, "20095-22769", ""),
        ("München", "MUC", "Bayern", DE, 1.5, 2, 48.137, 11.575, "80331-81929", ""),
        ("Köln", "CGN", "Nordrhein-Westfalen", DE, 1.1, 2, 50.938, 6.960, "50667-51149", ""),
        ("Frankfurt am Main", "FRA", "Hessen", DE, 0.77, 1, 50.110, 8.682, "60306-60599", ""),
        ("Stuttgart", "STR", "Baden-Württemberg", DE, 0.63, 1, 48.776, 9.183, "70173-70629", ""),
        ("Düsseldorf", "DUS", "Nordrhein-Westfalen", DE, 0.62, 1, 51.228, 6.774, "40210-40629", ""),
        ("Leipzig", "LEJ", "Sachsen", DE, 0.6, 1, 51.340, 12.375, "04103-04357", ""),
        ("Dortmund", "DTM", "Nordrhein-Westfalen", DE, 0.59, 1, 51.514, 7.466, "44135-44388", ""),
        ("Dresden", "DRS", "Sachsen", DE, 0.56, 1, 51.050, 13.738, "01067-01328", ""),
        ("Hannover", "HAJ", "Niedersachsen", DE, 0.54, 1, 52.376, 9.732, "30159-30669", ""),
        ("Nürnberg", "NUE", "Bayern", DE, 0.52, 1, 49.452, 11.077, "90402-90491", ""),
        ("Bremen", "BRE", "Bremen", DE, 0.57, 1, 53.079, 8.802, "28195-28779", ""),
    ],
    "US": [
        ("New York", "NYC", "NY", NY, 8.3, 4, 40.713, -74.006, "10001-10292", "212"),
        ("Los Angeles", "LAX", "CA", LA, 3.9, 3, 34.052, -118.244, "90001-90089", "213"),
        ("Chicago", "CHI", "IL", CHI, 2.7, 2, 41.878, -87.630, "60601-60661", "312"),
        ("Houston", "HOU", "TX", CHI, 2.3, 2, 29.760, -95.370, "77002-77099", "713"),
        ("Phoenix", "PHX", "AZ", PHX, 1.6, 1, 33.448, -112.074, "85003-85054", "602"),
        ("Philadelphia", "PHL", "PA", NY, 1.6, 1, 39.953, -75.165, "19102-19154", "215"),
        ("Dallas", "DAL", "TX", CHI, 1.3, 1, 32.777, -96.797, "75201-75254", "214"),
        ("Austin", "AUS", "TX", CHI, 0.97, 1, 30.267, -97.743, "78701-78759", "512"),
        ("Columbus", "CMH", "OH", NY, 0.9, 1, 39.961, -82.999, "43201-43235", "614"),
        ("San Francisco", "SFO", "CA", LA, 0.8, 1, 37.775, -122.419, "94102-94134", "415"),
        ("Seattle", "SEA", "WA", LA, 0.75, 1, 47.606, -122.332, "98101-98199", "206"),
        ("Denver", "DEN", "CO", DEN, 0.71, 1, 39.739, -104.990, "80202-80249", "303"),
        ("Boston", "BOS", "MA", NY, 0.65, 1, 42.360, -71.059, "02108-02137", "617"),
        ("Atlanta", "ATL", "GA", NY, 0.5, 1, 33.749, -84.388, "30303-30363", "404"),
        ("Miami", "MIA", "FL", NY, 0.45, 1, 25.762, -80.192, "33125-33199", "305"),
        ("Minneapolis", "MSP", "MN", CHI, 0.43, 1, 44.978, -93.265, "55401-55488", "612"),
    ],
}


def _city(country: str, row: _Row) -> City:
    name, code, region, zone, weight, stores, lat, lon, postcodes, area = row
    if country == "GB":
        return City(
            country,
            name,
            code,
            region,
            zone,
            weight,
            stores,
            lat,
            lon,
            postcode_areas=tuple(postcodes.split()),
        )
    low, high = (int(part) for part in postcodes.split("-"))
    return City(
        country,
        name,
        code,
        region,
        zone,
        weight,
        stores,
        lat,
        lon,
        postcode_range=(low, high),
        area_code=area,
    )


CITIES: tuple[City, ...] = tuple(
    _city(country, row) for country, rows in _ROWS.items() for row in rows
)

# Fictional telephone ranges: E.164 prefix followed by three random digits (000-999).
UK_MOBILE_DRAMA = "+447700900"
UK_LONDON_DRAMA = "+442079460"
DE_DRAMA = {  # Ortsnetz: prefix of the 1,000-number block
    "Berlin": "+493023125",
    "Hamburg": "+494066969",
    "Frankfurt am Main": "+496990009",
    "Köln": "+492214710",
    "München": "+498999998",
}
US_FICTIONAL_EXCHANGE = "55501"  # +1 AAA 555 01xx

STORE_SUFFIXES = {
    "GB": ("High Street", "Retail Park", "Shopping Centre", "Central", "Riverside", "Westgate"),
    "DE": ("Zentrum", "Hauptbahnhof", "Einkaufszentrum", "Altstadt", "Nord", "Süd"),
    "US": ("Downtown", "Mall", "Plaza", "Uptown", "Commons", "Crossing"),
}

UK_STREET_WORDS = (
    "High",
    "Church",
    "Station",
    "Victoria",
    "Park",
    "Mill",
    "Queen's",
    "King's",
    "Manor",
    "Green",
    "York",
    "Albert",
    "School",
    "North",
    "South",
    "Grange",
    "Windsor",
    "Chapel",
    "Orchard",
    "Meadow",
    "Bridge",
    "Springfield",
    "Kingsway",
)
UK_STREET_SUFFIXES = (
    "Road",
    "Street",
    "Lane",
    "Avenue",
    "Close",
    "Drive",
    "Crescent",
    "Way",
    "Gardens",
    "Grove",
    "Terrace",
    "Place",
    "Court",
    "Mews",
)
US_STREET_WORDS = (
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Walnut",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Franklin",
    "Highland",
    "Madison",
    "Ridge",
    "Willow",
    "Chestnut",
    "Jefferson",
    "Spring",
)
US_STREET_SUFFIXES = ("St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Ct", "Pl", "Way", "Ter")

# Letters valid in the inward code of a UK postcode (no C, I, K, M, O, V).
UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
