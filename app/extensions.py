"""Bare extension instances; `create_app` binds them to the app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app import kvstore  # noqa: F401  (registers the sqlite-kv storage for Flask-Limiter)
from app.database import Base
from app.redis_client import RedisClient

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
redis_client = RedisClient()
babel = Babel()
