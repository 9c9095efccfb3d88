"""The English vocabulary: training words for the renderer and the "50k" lexicon of evaluation, and
the vocabularies of sign text the renderer's scene preset draws from.

Sources, all PyPI packages that are dependencies of this project (``pip install -e .`` installs them),
and all independent of every benchmark: never derived from IC03 or any other test set's labels.

- ``english_words``: the GNU Collaborative International Dictionary of English (GCIDE) headword list,
  as shipped by ``english-words``: a dictionary, mostly rare words ("agrostography").
- ``frequent_words``: the most frequent English words with their frequencies, from ``wordfreq``
  (its data, built from subtitles, news, books, Wikipedia and web text, ships in the wheel).
- ``name_words``: first and last names, place and street names from ``faker``'s locale data (en_US,
  en_GB person names; US states, street suffixes such as Avenue or Crossing, Canadian provinces,
  British and Irish counties, Indian cities, the ~1000 towns of its geo provider).
- ``SIGN_WORDS``: a short curated list of words of shop fronts and street signs.
"""
from __future__ import annotations

import functools
import re

SOURCE = "english-words (PyPI) 'gcide' list: GNU Collaborative International Dictionary of English headwords"
SIGN_SOURCES = {
    "frequent": "wordfreq (PyPI) 'large' English list, letters a-z only, weighted by frequency ** 0.5",
    "name": "faker (PyPI) en_US/en_GB first and last names; states, street suffixes, provinces, counties, towns",
    "sign": "zoo.data.vocabulary.SIGN_WORDS: curated shop and street words",
}
_WORD = re.compile(r"[a-z]+")
_NAME = re.compile(r"[A-Za-z]+")

# What shop fronts, street and traffic signs say (SVT, IC15 and IC03 are photographs of such scenes);
# written from general knowledge of signage, not from any benchmark's labels.
SIGN_WORDS = tuple("""
OPEN CLOSED SALE SALES OFF FREE NEW NOW HOT FRESH BEST BIG SUPER MEGA DISCOUNT PRICE PRICES DEAL DEALS
SPECIAL SPECIALS OFFER BUY GET ONE TWO HALF ONLY EACH DAILY WEEKLY CASH CREDIT CARDS ATM WELCOME THANK YOU
PLEASE PUSH PULL ENTER ENTRANCE EXIT NO ENTRY WAY STOP GO SLOW YIELD CAUTION DANGER WARNING KEEP OUT
PRIVATE PARKING PARK TOW ZONE AREA LOADING TAXI BUS TRAIN STATION SUBWAY METRO TERMINAL GATE PLATFORM
STREET ST AVENUE AVE ROAD RD DRIVE DR LANE LN BOULEVARD BLVD HIGHWAY HWY PLACE PL COURT CT SQUARE SQ
PLAZA NORTH SOUTH EAST WEST N S E W CENTER CENTRE CITY TOWN HALL TOWER BUILDING BLOCK BLK FLOOR LEVEL
SUITE UNIT OFFICE OFFICES LOBBY RECEPTION TOILET TOILETS RESTROOM RESTROOMS MEN WOMEN LADIES GENTS
HOTEL MOTEL INN SUITES HOSTEL LODGE RESORT CAFE COFFEE TEA BAR PUB GRILL KITCHEN DINER BISTRO TAVERN
RESTAURANT PIZZA PIZZERIA BURGER BURGERS CHICKEN STEAK STEAKHOUSE SEAFOOD SUSHI NOODLE NOODLES RAMEN
THAI CHINESE INDIAN ITALIAN MEXICAN JAPANESE KOREAN FOOD FOODS DELI BAKERY BAGELS DONUTS ICE CREAM
JUICE WINE BEER LIQUOR SPIRITS MARKET SUPERMARKET GROCERY MART STORE STORES SHOP SHOPS OUTLET MALL
BOUTIQUE FASHION SHOES JEWELRY JEWELLERY GOLD SILVER WATCHES OPTICAL BOOKS BOOKSTORE MUSIC VIDEO GAMES
TOYS GIFTS FLOWERS FLORIST PET PETS HARDWARE FURNITURE ELECTRONICS MOBILE PHONE PHONES COMPUTER
PHARMACY DRUGS DRUG CHEMIST CLINIC DENTAL DENTIST DOCTOR MEDICAL HEALTH HOSPITAL EMERGENCY CARE
FITNESS GYM YOGA SPA SALON HAIR BARBER NAILS BEAUTY TATTOO LAUNDRY CLEANERS DRY REPAIR REPAIRS SERVICE
SERVICES AUTO MOTORS TIRES TYRES GAS FUEL OIL CAR WASH RENTAL RENT LEASE REAL ESTATE REALTY INSURANCE
BANK TRUST SAVINGS LOANS LAW ATTORNEY LAWYERS TAX POST MAIL EXPRESS DELIVERY TAKEAWAY PICKUP THRU
SCHOOL COLLEGE UNIVERSITY ACADEMY LIBRARY MUSEUM GALLERY THEATRE THEATER CINEMA CHURCH CHAPEL TEMPLE
POLICE FIRE DEPT DEPARTMENT COUNTY STATE NATIONAL PUBLIC COMMUNITY CLUB LOUNGE CASINO BINGO
COMPANY CO INC LTD LLC GROUP AND THE OF FOR AT TO IN ON BY MR MRS
""".split())


@functools.lru_cache(maxsize=1)
def _words() -> tuple[str, ...]:
    try:
        from english_words import get_english_words_set
    except ImportError as err:
        raise ImportError("the English vocabulary needs the `english-words` package: pip install -e . "
                          "(or pip install english-words)") from err
    words = get_english_words_set(["gcide"], lower=True, alpha=True)
    return tuple(sorted(w for w in words if _WORD.fullmatch(w)))


def english_words() -> list[str]:
    """Over 100k lowercase English words (letters a-z only), sorted, without duplicates."""
    return list(_words())


@functools.lru_cache(maxsize=4)
def frequent_words(n: int = 30_000) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The ``n`` most frequent English words (letters a-z only), most frequent first, and their
    frequencies (per word of running text)."""
    from wordfreq import get_frequency_list

    words, freqs = [], []
    for centibels, bucket in enumerate(get_frequency_list("en", "large")):  # bucket i: frequency 10^(-i/100)
        for word in bucket:
            if _WORD.fullmatch(word):
                words.append(word)
                freqs.append(10 ** (-centibels / 100))
        if len(words) >= n:
            break
    return tuple(words[:n]), tuple(freqs[:n])


@functools.lru_cache(maxsize=1)
def name_words() -> tuple[str, ...]:
    """Person, place and street names as single words (multi-word names split), title case, sorted."""
    from faker.providers.address import en_CA, en_GB, en_IE, en_IN, en_US
    from faker.providers.geo import Provider as Geo
    from faker.providers.person import en_GB as person_gb
    from faker.providers.person import en_US as person_us

    names = [*person_us.Provider.first_names, *person_us.Provider.last_names,
             *person_gb.Provider.first_names, *person_gb.Provider.last_names,
             *en_US.Provider.states, *en_US.Provider.street_suffixes, *en_CA.Provider.provinces,
             *en_GB.Provider.counties, *en_IE.Provider.counties, *en_IN.Provider.cities,
             *(place[2] for place in Geo.land_coords)]
    return tuple(sorted({token for name in names for token in _NAME.findall(name)}))
