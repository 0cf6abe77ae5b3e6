"""Random container names in docker's `adjective_surname` style."""

from __future__ import annotations

import os

_LEFT = ("admiring", "adoring", "affectionate", "amazing", "awesome", "blissful", "bold", "brave", "charming",
         "clever", "compassionate", "competent", "confident", "cool", "dazzling", "determined", "eager",
         "ecstatic", "elastic", "elegant", "epic", "festive", "focused", "friendly", "funny", "gallant",
         "gifted", "gracious", "happy", "hopeful", "inspiring", "jolly", "jovial", "keen", "kind", "laughing",
         "loving", "lucid", "magical", "modest", "nice", "nifty", "nostalgic", "objective", "optimistic",
         "peaceful", "pensive", "practical", "priceless", "quirky", "relaxed", "reverent", "romantic", "serene",
         "sharp", "silly", "sleepy", "stoic", "sweet", "tender", "thirsty", "trusting", "upbeat", "vibrant",
         "vigilant", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen")
_RIGHT = ("albattani", "allen", "archimedes", "babbage", "bardeen", "bell", "blackwell", "bohr", "booth",
          "brattain", "carson", "cerf", "chandrasekhar", "curie", "darwin", "diffie", "dijkstra", "einstein",
          "elion", "engelbart", "euclid", "euler", "fermat", "feynman", "franklin", "galileo", "gauss",
          "goldberg", "goodall", "hamilton", "heisenberg", "hellman", "hodgkin", "hopper", "hypatia", "jackson",
          "johnson", "kalam", "kepler", "khorana", "knuth", "kowalevski", "lamarr", "leakey", "lovelace",
          "margulis", "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle", "morse", "newton",
          "nobel", "noether", "pasteur", "payne", "perlman", "pike", "poincare", "ritchie", "rosalind", "sammet",
          "shannon", "shaw", "sinoussi", "stonebraker", "swanson", "tesla", "thompson", "torvalds", "turing",
          "volhard", "wescoff", "wilbur", "wiles", "wing", "wozniak", "wright", "yalow", "yonath")


def random_name() -> str:
    r = int.from_bytes(os.urandom(4), "big")
    return f"{_LEFT[r % len(_LEFT)]}_{_RIGHT[(r // len(_LEFT)) % len(_RIGHT)]}"
