import pytest

from connector.domain.errors import ConfigurationError
from connector.plugins.secrets import env_secret, scrub


def test_a_secret_comes_from_the_variable_the_option_names():
    assert env_secret("OA_PASSWORD", {"OA_PASSWORD": "s3cret"}, "adapter.password_env",
                      "password_env", "OA_PASSWORD") == "s3cret"


@pytest.mark.parametrize("name,env,fragment", [
    ("OA_PASSWORD", {}, "OA_PASSWORD, which is not set"),
    ("has space", {"has space": "x"}, "must name an environment variable"),
    (123, {}, "must name an environment variable"),
])
def test_bad_or_unset_names_say_where_and_how_to_fix(name, env, fragment):
    with pytest.raises(ConfigurationError) as err:
        env_secret(name, env, "adapter.password_env", "password_env", "OA_PASSWORD")
    assert fragment in err.value.detail and "adapter.password_env" in err.value.detail


def test_scrub_hides_secrets_and_url_credentials():
    text = scrub("GET https://user:pw@api.example.ir/v1/KEY123/send failed (KEY123)", ["KEY123", ""])
    assert "KEY123" not in text and "user:pw" not in text and "https://***@api" in text
