"""Campaign messages: placeholders filled, gaps of missing values tidied, names capitalised (SPEC §5)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from services.messages import (
    Templates,
    display_name,
    field_name,
    first_name,
    render_message,
    render_rows,
    template_fields,
)


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("Olá {first_name}, o {product} chegou!", {"name": "maria DA silva", "product": "Submariner"},
         "Olá Maria, o Submariner chegou!"),
        ("Olá {first_name}, o {product} chegou!", {"product": "Submariner"},
         "Olá, o Submariner chegou!"),
        ("{first_name}, o {product} chegou!", {"product": "Submariner"}, "O Submariner chegou!"),
        ("Olá, {first_name}!", {}, "Olá!"),
        ("Obrigado, {first_name}", {}, "Obrigado"),
        ("Oi! {first_name}, tudo bem?", {}, "Oi! Tudo bem?"),
        ("Lembra do {product}? Temos novidades.", {}, "Lembra? Temos novidades."),
        ("O {product} que você procurou está disponível!", {}, "O que você procurou está disponível!"),
        ("O {product} da {brand} chegou!", {"product": "Tank Must"}, "O Tank Must chegou!"),
        ("Novos modelos {brand} chegaram.", {}, "Novos modelos chegaram."),
        ("Vi que você se interessou por {brands}.", {"brands": ["Rolex", "Cartier", "Omega", "IWC"]},
         "Vi que você se interessou por Rolex, Cartier e Omega."),
        ("Vi que você se interessou por {brands}.", {"brands": ["Rolex", "Cartier"]},
         "Vi que você se interessou por Rolex e Cartier."),
        ("Vi que você se interessou por {brands}.", {"brands": ["Rolex"]},
         "Vi que você se interessou por Rolex."),
        ("Vi que você se interessou por {brands}. Quer conhecer?", {"brands": []},
         "Vi que você se interessou. Quer conhecer?"),
        ("Olá {name} ({store})", {"name": "JOÃO DOS SANTOS"}, "Olá João dos Santos"),
        ("Olá {first_name} {desconhecido}!", {"first_name": "ana"}, "Olá Ana!"),
        ("Olá {Product}", {"product": "Daytona"}, "Olá Daytona"),
        ("Olá { product }{0}{}{nome do cliente}!", {"product": "Daytona"}, "Olá Daytona!"),
        ("Oi {first_name}!\nO {product} chegou.", {"product": "Daytona"}, "Oi!\nO Daytona chegou."),
        ("Sem nada para trocar.", {}, "Sem nada para trocar."),
    ],
)
def test_render_message_fills_and_tidies(template, context, expected):
    assert render_message(template, context) == expected


def test_values_are_never_read_as_placeholders():
    assert render_message("Oi {first_name}: {product}", {"name": "Ana", "product": "{name}"}) == (
        "Oi Ana: {name}"
    )


@pytest.mark.parametrize(
    ("name", "first", "full"),
    [
        ("maria DA silva", "Maria", "Maria da Silva"),
        ("ÁLVARO PEREIRA", "Álvaro", "Álvaro Pereira"),
        ("ana-clara dos santos", "Ana-Clara", "Ana-Clara dos Santos"),
        ("Dra. beatriz lima", "Beatriz", "Dra. Beatriz Lima"),
        ("  joão   de souza ", "João", "João de Souza"),
        ("123", "", "123"),
        ("", "", ""),
        (None, "", ""),
    ],
)
def test_names_are_capitalised_the_portuguese_way(name, first, full):
    assert first_name(name) == first
    assert display_name(name) == full


def test_rendered_messages_never_keep_placeholders_or_gaps():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    token = st.one_of(
        st.sampled_from(["Olá", "o", "do", "da", "por", "e", "Temos", "chegou", "que", "você", "("]),
        st.sampled_from(["{first_name}", "{name}", "{product}", "{brand}", "{brands}", "{store}",
                         "{desconhecido}", "{0}", "{}"]),
    )
    mark = st.sampled_from(["", "", "", ",", "!", "?", ".", ":", ")", "\n"])
    values = st.one_of(st.none(), st.sampled_from(["Ana", "Submariner", "Rolex", "Loja A"]))

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.tuples(token, mark), min_size=1, max_size=14), st.dictionaries(
        st.sampled_from(["name", "product", "brand", "store"]), values))
    def check(parts, context):
        # The template itself is tidy: single spaces, punctuation against its word.
        template = " ".join(word + end for word, end in parts).replace("( ", "(").replace("\n ", "\n")
        message = render_message(template, context)
        assert "{" not in message and "}" not in message
        assert "  " not in message
        assert message == message.strip()
        for line in message.split("\n"):
            assert line == line.rstrip()
            assert not line.lstrip().startswith((",", ";", ":"))
        for end in ",.!?;:":
            assert f" {end}" not in message

    check()


def test_template_fields_lists_known_and_unknown_placeholders_in_order():
    assert template_fields("Olá {first_name}, {x} e {Product}") == ["first_name", "x", "product"]


def test_the_secondary_tier_falls_back_to_the_primary_template():
    assert Templates("A").for_tier("secondary") == "A"
    assert Templates("A", "B").for_tier("secondary") == "B"
    assert Templates("A", "B").for_tier("primary") == "A"


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("Novos modelos {brand}.", {"brand": "Tiffany & Co."}, "Novos modelos Tiffany & Co."),
        ("Vi {brands}. Quer conhecer?", {"brands": ["Rolex", "Tiffany & Co."]},
         "Vi Rolex e Tiffany & Co. Quer conhecer?"),
        ("Chegou {brand}!", {"brand": "Tiffany & Co."}, "Chegou Tiffany & Co.!"),
        ("Chegou {brand}...", {"brand": "Tiffany & Co."}, "Chegou Tiffany & Co...."),
    ],
)
def test_a_value_ending_in_a_period_does_not_double_the_sentences_own(template, context, expected):
    assert render_message(template, context) == expected


def test_every_row_of_a_list_gets_one_period_after_tiffany_and_co():
    templates = Templates("Novos modelos {marca}. Quer conhecer, {primeiro_nome}?",
                          "Lembra da {marca}.")
    names = pa.array(["ana lima", "bia", "caio"], type=pa.large_string())
    brands = pa.array(["Tiffany & Co.", "Rolex", "Tiffany & Co."], type=pa.large_string())
    messages = render_rows(templates, np.array([True, True, False]), names, {"brand": brands})
    assert messages.to_pylist() == [
        "Novos modelos Tiffany & Co. Quer conhecer, Ana?",
        "Novos modelos Rolex. Quer conhecer, Bia?",
        "Lembra da Tiffany & Co.",
    ]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Olá {primeiro_nome}, o {produto} da {marca} chegou na {loja}!",
         "Olá Ana, o Daytona da Rolex chegou na Vitrine Jardins!"),
        ("Olá {first_name}, o {product} da {brand} chegou na {store}!",
         "Olá Ana, o Daytona da Rolex chegou na Vitrine Jardins!"),
        ("{Nome}: {marcas}.", "Ana Lima: Rolex e Cartier."),
        ("Veja {link}", "Veja"),
    ],
)
def test_portuguese_placeholders_and_their_english_names_both_fill(template, expected):
    context = {"name": "ana lima", "product": "Daytona", "brand": "Rolex",
               "brands": ["Rolex", "Cartier"], "store": "Vitrine Jardins"}
    assert render_message(template, context) == expected


def test_field_name_reads_both_languages():
    assert field_name("produto") == field_name("Product") == "product"
    assert field_name("primeiro_nome") == "first_name"
    assert field_name("nome do cliente") is None
