"""Placeholder: sign-in pages and the users/tokens API."""

from fastapi import APIRouter

pages_router = APIRouter()
api_router = APIRouter()
