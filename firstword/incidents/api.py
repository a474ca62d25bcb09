"""Placeholder: filled in by the incidents web work."""

from fastapi import APIRouter

router = APIRouter()
