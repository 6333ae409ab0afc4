from .drawing import colour_for_id, draw_tracks, write_video

__all__ = ['colour_for_id', 'draw_tracks', 'write_video']
